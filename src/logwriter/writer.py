"""The writer thread: drains the record queue into WAL segments by group commit.

Why a thread and a deque. ``log()`` must cost microseconds, so the caller's
thread only validates, stamps ``ts`` and appends ``(type, ts, body)`` to a
``collections.deque`` (append is atomic under the GIL; no lock, no syscall,
no msgpack). Every ``flush_interval`` (or sooner when the queue passes
``wake_at``) this thread pops everything, packs it, cuts it into ~64 KiB
frames, and writes the whole group with one ``pwrite``, then fsyncs by policy.
A SIGKILL therefore loses at most about one flush interval of records.

Sequence numbers are assigned here, in queue order, which is call order: a
record's seq is the frame's base_seq plus its index, so seqs are dense by
construction, even when records are dropped before they reach the writer.

Failure policy (training must never die because of logging):

* queue full: ``put()`` waits up to ``put_timeout`` for room, then drops the
  record, counts it and queues a one-time warning; later puts drop at once
  ("shedding") until the writer has drained the queue again, so a stuck disk
  costs the training loop one short stall, not one per call.
* write error (ENOSPC, EIO, ...): the bytes written by the failed group are
  truncated away, the encoded frames stay in memory (up to
  ``max_pending_bytes``; past that the writer stops draining the queue and
  ``put()`` sheds), the error is counted and warned once, and the next flush
  retries.

Warnings are never raised from this thread (pytest's ``filterwarnings=error``
would kill it): they are queued in ``notices`` and the Run emits them on the
caller's thread at its next call.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logwriter.errors import DroppedRecordsWarning, RunwalWarning, WriteErrorWarning
from schema.atomic import fsync_dir
from schema.frame import MAX_FRAME, OVERHEAD, split_frames
from schema.records import pack_record
from schema.segment import SegmentHeader, segment_name

PWrite = Callable[[int, Any, int], int]
Periodic = Callable[[], None]

SEGMENT_BYTES = 64 * 1024 * 1024
MAX_QUEUE = 100_000
MAX_PENDING_BYTES = 64 * 1024 * 1024
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
        self.fsync_policy = fsync
        self.max_queue = max_queue
        self.wake_at = max(1, min(8192, max_queue // 4))
        self.segment_bytes = segment_bytes
        self.max_pending_bytes = max_pending_bytes
        self.put_timeout = put_timeout
        # Fault-injection seam: tests swap in a pwrite that fails or blocks.
        self.pwrite: PWrite = pwrite if pwrite is not None else os.pwrite
        self._queue: deque[tuple[int, float, Any]] = deque()
        self._wake = threading.Event()
        self._space = threading.Event()
        self._stop = threading.Event()
        self._shedding = False
        self._closed = False
        self._detached = False
        self._drop_lock = threading.Lock()
        self._periodic: list[list[Any]] = []  # [fn, interval, next_due]
        # Writer-thread state.
        self._next_seq = base_seq  # next seq to assign when packing
        self._pending: deque[tuple[bytes, int]] = deque()  # encoded, not yet on disk
        self._pending_bytes = 0
        self._dirty = False  # written since the last fsync
        # Counters, read by stats().
        self.dropped = 0
        self.written = 0
        self.bytes_written = 0
        self.write_errors = 0
        self.last_error: str | None = None
        self.segments = 0
        self.notices: list[tuple[type[RunwalWarning], str]] = []
        self._noticed: set[str] = set()
        self._fd = -1
        self._seed = 0
        self._offset = 0
        self._open_segment(base_seq)  # in the caller: a bad run dir fails init(), loudly
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

    def flush_now(self) -> None:
        """Ask the thread to flush soon (used before a signal kills the process)."""
        self._wake.set()

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

    def detach(self) -> None:
        """Forget the parent's run in a forked child: no thread, no writes, fd closed."""
        self._detached = True
        self._closed = True
        self._queue = deque()
        self._pending = deque()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._detached

    def stats(self) -> dict[str, Any]:
        return {
            "queued": len(self._queue),
            "written": self.written,
            "dropped": self.dropped,
            "bytes_written": self.bytes_written,
            "pending_bytes": self._pending_bytes,
            "write_errors": self.write_errors,
            "last_error": self.last_error,
            "segments": self.segments,
            "next_seq": self._next_seq,
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
                if not self._pending and not self._queue:
                    break
                time.sleep(self.flush_interval)
                self._flush()
        finally:
            self._shutdown()

    def _flush(self) -> None:
        if self._fd < 0:
            return
        q = self._queue
        if not self._pending and q and self._offset >= self.segment_bytes:
            self._rotate()
        while q and self._pending_bytes < self.max_pending_bytes:
            batch = [q.popleft() for _ in range(min(len(q), 16384))]
            self._encode(batch)
        if len(q) < self.max_queue // 2:
            self._shedding = False
        self._space.set()
        if self._pending:
            self._write_pending()
        if self._dirty and self.fsync_policy == "commit":
            self._sync()

    def _encode(self, batch: list[tuple[int, float, Any]]) -> None:
        packed: list[bytes] = []
        for rtype, ts, body in batch:
            if callable(body):
                try:
                    body = body()
                except Exception as exc:  # keep the run alive
                    body = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                rec = pack_record(rtype, ts, body)
            except Exception as exc:  # a validation gap must not kill us
                self._count_lost(1, f"unpackable record of type {rtype}: {exc}")
                continue
            if len(rec) + OVERHEAD > MAX_FRAME:
                self._count_lost(1, f"record of type {rtype} is {len(rec)} bytes, over a frame")
                continue
            packed.append(rec)
        if not packed:
            return
        data = b"".join(split_frames(packed, self._next_seq, self._seed))
        self._next_seq += len(packed)
        self._pending.append((data, len(packed)))
        self._pending_bytes += len(data)

    def _write_pending(self) -> None:
        """Write every pending frame with one pwrite; on error keep them for a retry."""
        data = b"".join(d for d, _ in self._pending) if len(self._pending) > 1 else \
            self._pending[0][0]
        count = sum(n for _, n in self._pending)
        view = memoryview(data)
        start = self._offset
        done = 0
        try:
            while done < len(data):
                n = self.pwrite(self._fd, view[done:], start + done)
                if n <= 0:
                    raise OSError(errno.EIO, "write returned 0 bytes")
                done += n
        except OSError as exc:
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
            self._error("write", exc)
            return
        self._offset += done
        self._pending.clear()
        self._pending_bytes = 0
        self.written += count
        self.bytes_written += done
        self._dirty = True

    def _sync(self) -> None:
        try:
            os.fdatasync(self._fd) if hasattr(os, "fdatasync") else os.fsync(self._fd)
        except OSError as exc:
            self._error("fsync", exc)
            return
        self._dirty = False

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

    def _rotate(self) -> None:
        old = self._fd
        try:
            self._open_segment(self._next_seq)
        except OSError as exc:
            self._error("open new segment", exc)  # keep appending to the old one
            return
        self._close_fd(old)

    def _open_segment(self, base_seq: int) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / segment_name(base_seq)
        if path.exists():
            # A segment with this base holds no valid record (the caller found the
            # last seq before it), e.g. a crash right after it was created. Keep
            # its bytes for forensics under a name readers ignore.
            path.rename(path.with_name(f"{path.name}.stale-{time.time_ns()}"))
        header = SegmentHeader.new(base_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            raw = header.encode()
            if os.pwrite(fd, raw, 0) != len(raw):
                raise OSError(errno.EIO, f"short write of the segment header of {path}")
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        fsync_dir(self.log_dir)
        self._fd, self._seed, self._offset = fd, header.seed, len(raw)
        self.segments += 1

    def _close_fd(self, fd: int) -> None:
        if fd < 0:
            return
        try:
            if self.fsync_policy != "never":
                os.fsync(fd)
        except OSError as exc:
            self._error("fsync", exc)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _shutdown(self) -> None:
        lost = sum(n for _, n in self._pending) + len(self._queue)
        if lost and not self._detached:
            self._count_lost(lost, f"{lost} records could not be written before close")
        self._pending.clear()
        self._queue.clear()
        self._closed = True
        fd, self._fd = self._fd, -1
        if not self._detached:
            self._close_fd(fd)
        self._space.set()
