"""The writer thread: drains the record queue into WAL segments by group commit.

Why a thread and a deque. ``log()`` must cost microseconds, so the caller's
thread only validates, stamps ``ts`` and appends ``(type, ts, body)`` to a
``collections.deque`` (append is atomic under the GIL; no lock, no syscall,
no msgpack). Every ``flush_interval`` (or sooner when the queue passes
``wake_at``) this thread pops everything and hands it to the Appender
(appender.py: seqs, frames, one ``pwrite``, fsync by policy, rotation,
write-error retries). A SIGKILL therefore loses at most about one flush
interval of records.

Failure policy (training must never die because of logging):

* queue full: ``put()`` waits up to ``put_timeout`` for room, then drops the
  record, counts it and queues a one-time warning; later puts drop at once
  ("shedding") until the writer has drained the queue again, so a stuck disk
  costs the training loop one short stall, not one per call.
* write error: the Appender keeps the frames and retries at each flush; past
  its ``max_pending_bytes`` this thread stops draining the queue and
  ``put()`` sheds. The error is counted and warned once.
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
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logwriter.appender import MAX_PENDING_BYTES, SEGMENT_BYTES, Appender, PWrite
from logwriter.errors import DroppedRecordsWarning, RunwalWarning, WriteErrorWarning

Periodic = Callable[[], None]

MAX_QUEUE = 100_000
PUT_TIMEOUT = 0.5
CLOSE_RETRIES = 3


class Writer:
    """One run's WAL writer: a bounded queue in front of one background thread."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        base_seq: int,
        *,
        flush_interval: float = 0.1,
        fsync: str = "commit",
        max_queue: int = MAX_QUEUE,
        segment_bytes: int = SEGMENT_BYTES,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        put_timeout: float = PUT_TIMEOUT,
        pwrite: PWrite | None = None,
        name: str = "runwal-writer",
    ) -> None:
        self.log_dir = Path(log_dir)
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.wake_at = max(1, min(8192, max_queue // 4))
        self.put_timeout = put_timeout
        self._queue: deque[tuple[int, float, Any]] = deque()
        self._wake = threading.Event()
        self._space = threading.Event()
        self._stop = threading.Event()
        self._shedding = False
        self._closed = False
        self._detached = False
        self._drop_lock = threading.Lock()
        self._periodic: list[list[Any]] = []  # [fn, interval, next_due]
        # Counters, read by stats().
        self.dropped = 0
        self.write_errors = 0
        self.last_error: str | None = None
        self.notices: list[tuple[type[RunwalWarning], str]] = []
        self._noticed: set[str] = set()
        # The first segment is opened here, in the caller: a bad run dir fails init().
        self.appender = Appender(
            log_dir, base_seq, fsync=fsync, on_error=self._error, on_lost=self._count_lost,
            segment_bytes=segment_bytes, max_pending_bytes=max_pending_bytes, pwrite=pwrite,
        )
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    # -- caller side -------------------------------------------------------

    def put(self, rtype: int, ts: float, body: Any, *, block: bool = True) -> bool:
        """Queue one record; False when it was dropped. Never raises, never does I/O.

        ``body`` may be a zero-argument callable, evaluated on the writer
        thread (for slow bodies such as the RUN record's git metadata).
        """
        q = self._queue
        if len(q) >= self.max_queue and not self._make_room(block):
            return False
        q.append((rtype, ts, body))
        if len(q) >= self.wake_at and not self._wake.is_set():
            self._wake.set()
        return True

    def _make_room(self, block: bool) -> bool:
        if self._closed or self._detached:
            return False
        if block and not self._shedding and threading.current_thread() is not self._thread:
            self._wake.set()
            deadline = time.monotonic() + self.put_timeout
            while len(self._queue) >= self.max_queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._space.clear()
                if len(self._queue) < self.max_queue:
                    break
                self._space.wait(min(left, 0.05))
            if len(self._queue) < self.max_queue:
                return True
            self._shedding = True
        with self._drop_lock:
            self.dropped += 1
        self._notice(
            "drop",
            DroppedRecordsWarning,
            "runwal: the log queue is full (the disk is slower than logging, or failing); "
            "records are being dropped and counted in run.stats()['dropped']",
        )
        return False

    def add_periodic(self, fn: Periodic, interval: float) -> None:
        """Call ``fn()`` on the writer thread about every ``interval`` seconds."""
        self._periodic.append([fn, interval, time.monotonic() + interval])

    def close(self, timeout: float = 10.0) -> bool:
        """Flush everything, fsync, close the segment; True when the thread stopped."""
        if self._detached:
            return True
        self._stop.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._closed = True
        return not self._thread.is_alive()

    def backlog(self) -> int:
        """Records accepted by put() and not yet on disk (queued, or encoded and pending)."""
        return len(self._queue) + self.appender.pending_records

    def detach(self) -> None:
        """Forget the parent's run in a forked child: no thread, no writes, fd closed."""
        self._detached = True
        self._closed = True
        self._queue = deque()
        self.appender.detach()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._detached

    def stats(self) -> dict[str, Any]:
        out = self.appender
        return {
            "queued": len(self._queue),
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

    # -- writer thread -----------------------------------------------------

    def _main(self) -> None:
        try:
            while True:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                stopping = self._stop.is_set()
                self._flush()
                if self._periodic and not stopping:
                    self._run_periodic()
                if stopping:
                    break
            for _ in range(CLOSE_RETRIES):
                if not self.appender.pending_records and not self._queue:
                    break
                time.sleep(self.flush_interval)
                self._flush()
        finally:
            self._shutdown()

    def _flush(self) -> None:
        out = self.appender
        if not out.is_open:
            return
        q = self._queue
        if q:
            out.rotate_if_full()
        while q and out.has_room():
            out.encode([q.popleft() for _ in range(min(len(q), 16384))])
        if len(q) < self.max_queue // 2:
            self._shedding = False
        self._space.set()
        out.commit()

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
        with self._drop_lock:
            self.dropped += n
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
        lost = self.appender.discard() + len(self._queue)
        if lost and not self._detached:
            self._count_lost(lost, f"{lost} records could not be written before close")
        self._queue.clear()
        self._closed = True
        if not self._detached:
            self.appender.close()
        self._space.set()
