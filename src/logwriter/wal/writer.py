"""The writer thread: drains the record queue into WAL segments by group commit.

Why a thread and a deque. ``log()`` must cost microseconds, so the caller's
thread only validates, stamps ``ts`` and appends ``(type, ts, body, bytes)``
to the queue (backlog.py: a deque, no lock, no syscall, no msgpack). Every
half flush interval (sooner when the queue passes ``wake_at`` records) this
thread takes the queue in chunks and hands each to the Appender (appender.py:
seqs, frames, one ``pwrite`` per chunk, rotation, write-error retries), then
asks for an fsync by policy (at most once per flush interval, on its own
thread: fsyncer.py).

What a ``kill -9`` can lose is what the queue and the chunk in hand hold, and
the queue's back-pressure (backlog.py) keeps the oldest of those younger than
one flush interval: ``log()`` waits for this thread rather than run ahead of
it. The figures are in tests/logwriter/wal/test_reliability_logwriter.py.

Failure policy (training must never die because of logging):

* a stuck disk: ``put()`` waits up to ``put_timeout`` for the writer to move,
  then drops the record, counts it and queues a one-time warning, and sheds
  later records at once until the writer moved again.
* write error (ENOSPC, EIO): the Appender keeps the frames and retries at each
  flush, up to ``max_pending_bytes``; meanwhile the queue keeps records up to
  its size bounds, then sheds. The error is counted and warned once.
* the run directory deleted: every record from then on is dropped, counted,
  and warned once (appender.py says how it is seen).
* ``close(timeout)`` returns False when the thread did not stop in time (a
  stuck disk); ``backlog()`` then says how many records may not be on disk.

Warnings are never raised from this thread (pytest's ``filterwarnings=error``
would kill it): they are queued in ``notices`` and the Run emits them on the
caller's thread at its next call.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logwriter.errors import DroppedRecordsWarning, RunwalWarning, WriteErrorWarning
from logwriter.wal.appender import (
    CHUNK_RECORDS,
    MAX_PENDING_BYTES,
    SEGMENT_BYTES,
    Appender,
    PWrite,
)
from logwriter.wal.backlog import MAX_BYTES, MAX_RECORDS, PUT_TIMEOUT, Backlog

Periodic = Callable[[], None]
Put = Callable[..., bool]

CLOSE_RETRIES = 3


class Writer:
    """One run's WAL writer: a bounded queue in front of one background thread."""

    put: Put
    """``put(rtype, ts, body, nbytes=0, block=True)``: queue one record; False when it
    was dropped. Never raises, never does I/O. ``body`` may be a zero-argument
    callable, evaluated on the writer thread (the RUN record's git metadata).
    ``nbytes`` is the caller's size estimate, for the queue's memory bound."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        base_seq: int,
        *,
        flush_interval: float = 0.1,
        fsync: str = "commit",
        max_queue: int = MAX_RECORDS,
        max_queue_bytes: int = MAX_BYTES,
        segment_bytes: int = SEGMENT_BYTES,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        put_timeout: float = PUT_TIMEOUT,
        pwrite: PWrite | None = None,
        name: str = "runwal-writer",
    ) -> None:
        self.log_dir = Path(log_dir)
        self.flush_interval = flush_interval
        self.queue = Backlog(max_lag=flush_interval, on_drop=self._on_drop,
                             max_records=max_queue, max_bytes=max_queue_bytes,
                             put_timeout=put_timeout)
        self.put = self.queue.put  # the hot path: one call, no wrapper
        self._stop = threading.Event()
        self._detached = False
        self._periodic: list[list[Any]] = []  # [fn, interval, next_due]
        # Counters, read by stats().
        self.lost = 0  # records the writer could not write (the queue counts its own drops)
        self.write_errors = 0
        self.last_error: str | None = None
        self.notices: list[tuple[type[RunwalWarning], str]] = []
        self._noticed: set[str] = set()
        # The first segment is opened here, in the caller: a bad run dir fails init().
        self.appender = Appender(
            log_dir, base_seq, fsync=fsync, on_error=self._error, on_lost=self._count_lost,
            sync_every=flush_interval, segment_bytes=segment_bytes,
            max_pending_bytes=max_pending_bytes, pwrite=pwrite, name=name,
        )
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.queue.writer_thread = self._thread
        self._thread.start()

    # -- caller side -------------------------------------------------------

    def add_periodic(self, fn: Periodic, interval: float) -> None:
        """Call ``fn()`` on the writer thread about every ``interval`` seconds."""
        self._periodic.append([fn, interval, time.monotonic() + interval])

    def close(self, timeout: float = 10.0) -> bool:
        """Flush everything, fsync, close the segment; True when the thread stopped."""
        if self._detached:
            return True
        self._stop.set()
        self.queue.wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self.queue.close()
        return not self._thread.is_alive()

    def backlog(self) -> int:
        """Records accepted by put() and not yet on disk (queued, or encoded and pending)."""
        return len(self.queue.items) + self.appender.pending_records

    def detach(self) -> None:
        """Forget the parent's run in a forked child: no thread, no writes, fd closed."""
        self._detached = True
        self.queue.after_fork()
        self.appender.detach()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._detached

    @property
    def dropped(self) -> int:
        return self.queue.dropped + self.lost

    def stats(self) -> dict[str, Any]:
        out = self.appender
        return {
            "queued": len(self.queue.items),
            "queued_bytes": self.queue.queued_bytes(),
            "written": out.written,
            "dropped": self.dropped,
            "bytes_written": out.bytes_written,
            "pending_bytes": out.pending_bytes,
            "write_errors": self.write_errors,
            "last_error": self.last_error,
            "segments": out.segments,
            "next_seq": out.next_seq,
        }

    def _notice(self, key: str, category: type[RunwalWarning], message: str) -> None:
        if key not in self._noticed:
            self._noticed.add(key)
            self.notices.append((category, message))

    def _on_drop(self) -> None:
        self._notice(
            "drop",
            DroppedRecordsWarning,
            "runwal: the writer cannot keep up (the disk is stuck, slow or failing); records "
            "are being dropped and counted in run.stats()['dropped']",
        )

    # -- writer thread -----------------------------------------------------

    def _main(self) -> None:
        tick = self.flush_interval / 2
        wake = self.queue.wake
        try:
            while True:
                wake.wait(tick)
                wake.clear()
                stopping = self._stop.is_set()
                self._flush()
                if self._periodic and not stopping:
                    self._run_periodic()
                if stopping:
                    break
            for _ in range(CLOSE_RETRIES):
                if not self.appender.pending_records and not self.queue.items:
                    break
                time.sleep(self.flush_interval)
                self._flush()
        finally:
            self._shutdown()

    def _flush(self) -> None:
        """Write the queue, chunk by chunk, each chunk with one pwrite; then fsync by policy."""
        out, queue = self.appender, self.queue
        if out.gone:
            n = queue.discard()
            if n:
                self._count_lost(n, "")
            return
        if not out.is_open:
            return
        if queue.items:
            out.rotate_if_full()
        while True:
            room = out.room()
            chunk = queue.take(CHUNK_RECORDS, room) if room else []
            if chunk:
                queue.busy = True  # packing, and perhaps a slow body: not stuck
                try:
                    out.encode(chunk)
                finally:
                    queue.busy = False
            if out.pending_records:
                ok = out.write()
                queue.written(ok)
                if not ok:
                    if out.gone:
                        self._count_lost(queue.discard(), "")
                    break
            elif chunk:
                queue.written(True)  # nothing of it could be packed (counted)
            if not chunk:
                break
            out.rotate_if_full()
        out.sync(time.monotonic())

    def _error(self, op: str, exc: OSError) -> None:
        self.write_errors += 1
        self.last_error = f"{op}: {exc}"
        self._notice(
            "write-error",
            WriteErrorWarning,
            f"runwal: {op} to {self.log_dir} failed ({exc}); records are kept in memory and "
            "retried at each flush, and counted as dropped if the buffer fills",
        )

    def _count_lost(self, n: int, why: str) -> None:
        if not n:
            return
        self.lost += n
        if self.appender.gone:  # the first report names the cause; later ones only count
            self.last_error = f"the run directory {self.log_dir.parent} was deleted"
            self._notice(
                "gone",
                DroppedRecordsWarning,
                f"runwal: the run directory {self.log_dir.parent} was deleted while the run "
                "was logging; what was logged since, and everything logged from now on, is "
                "dropped and counted in run.stats()['dropped']",
            )
            return
        self.last_error = why
        self._notice("lost", DroppedRecordsWarning, f"runwal: dropped a record: {why}")

    def _run_periodic(self) -> None:
        now = time.monotonic()
        for entry in self._periodic:
            fn, interval, due = entry
            if now >= due:
                entry[2] = now + interval
                try:
                    fn()
                except Exception as exc:  # a helper must not kill the writer
                    self.last_error = f"periodic task failed: {exc}"

    def _shutdown(self) -> None:
        lost = self.appender.discard() + self.queue.discard()
        if lost and not self._detached:
            self._count_lost(lost, f"{lost} records could not be written before close")
        self.queue.close()
        if not self._detached:
            self.appender.close()
