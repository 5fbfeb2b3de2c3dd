"""The bytes side of the writer: records -> frames -> one ``pwrite`` at the segment's end.

The writer thread (writer.py) owns the queue and the timing; this module owns
the run's segment files, and is only ever called from that thread (or from
the constructor, in the caller, for the first segment: a bad run directory
then fails ``init()`` loudly).

* Sequence numbers are assigned here, in queue order, which is call order: a
  record's seq is its frame's base_seq plus its index, so seqs are dense by
  construction, even when records were dropped before they got here.
* ``encode()`` packs a chunk of records and cuts it into ~64 KiB frames
  (schema.frame.split_frames); the frames stay *pending* until ``write()``
  writes every pending frame with one ``pwrite``. The writer calls the two
  per chunk (a few thousand records or a few MiB), so records reach the
  kernel while later ones are still being packed. ``sync()`` fsyncs by
  policy, at most once per ``sync_every`` seconds, on the FsyncThread
  (fsyncer.py) so that a slow fsync never holds back a write.
* Write error (ENOSPC, EIO, ...): the bytes written by the failed group are
  truncated away, the encoded frames stay pending (``room()`` turns 0 as they
  reach ``max_pending_bytes``, and the writer stops taking records
  from its queue), the error is reported through ``on_error``, and the next
  ``write()`` retries at the same offset. The bound holds to within one chunk.
* The run directory deleted under a live run: the segment's link count drops
  to 0 (or the write fails with ENOENT/ESTALE). The records of that write and
  every later one can only go into a file nobody will read, so the Appender
  stops writing (``gone``) and reports them through ``on_lost``; it never
  re-creates the directory (the SDK writes only inside a run directory that
  exists).
* A record that cannot be packed, or is bigger than a frame, is reported
  through ``on_lost`` and skipped: a validation gap must not kill the thread.
  One that fails only because of a lone surrogate (a str that is no valid
  UTF-8) is written with the surrogate escaped (values.text.clean_text_deep)
  instead.
* Rotation: a new segment (header written and fsynced, directory fsynced)
  once the current one passed ``segment_bytes`` and nothing is pending.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logwriter.values.text import clean_text_deep
from logwriter.wal.fsyncer import FsyncThread, datasync
from schema.atomic import fsync_dir
from schema.frame import MAX_FRAME, OVERHEAD, split_frames
from schema.records import pack_record
from schema.segment import SegmentHeader, segment_name

PWrite = Callable[[int, Any, int], int]
OnError = Callable[[str, OSError], None]
OnLost = Callable[[int, str], None]

SEGMENT_BYTES = 64 * 1024 * 1024
MAX_PENDING_BYTES = 64 * 1024 * 1024
CHUNK_RECORDS = 4096  # records the writer packs between two writes
CHUNK_BYTES = 4 * 1024 * 1024  # ... or this many estimated bytes
_GONE_ERRNOS = (errno.ENOENT, errno.ESTALE)


class Appender:
    """Appends framed records to ``log_dir``'s segments; one thread calls it."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        base_seq: int,
        *,
        fsync: str,
        on_error: OnError,
        on_lost: OnLost,
        sync_every: float = 0.1,
        segment_bytes: int = SEGMENT_BYTES,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        pwrite: PWrite | None = None,
        name: str = "runwal",
    ) -> None:
        self.log_dir = Path(log_dir)
        self.fsync_policy = fsync
        self.sync_every = sync_every
        self.segment_bytes = segment_bytes
        self.max_pending_bytes = max_pending_bytes
        # Fault-injection seam: tests swap in a pwrite that fails or blocks.
        self.pwrite: PWrite = pwrite if pwrite is not None else os.pwrite
        self._on_error = on_error
        self._on_lost = on_lost
        self.next_seq = base_seq  # next seq to assign when packing
        self._pending: deque[tuple[bytes, int]] = deque()  # encoded, not yet on disk
        self.pending_bytes = 0
        # Records encoded but not yet on disk; a plain int, so that another thread
        # can read it (Writer.backlog) while this one changes the deque.
        self.pending_records = 0
        self._dirty = False  # written since the last fsync
        self._synced_at = 0.0  # monotonic time of the last fsync request
        self.failing = False  # the last write failed: pending frames wait for a retry
        self.gone = False  # the segment was deleted: nothing more is written
        self.written = 0
        self.bytes_written = 0
        self.segments = 0
        self._fd = -1
        self._seed = 0
        self._offset = 0
        if not self.log_dir.is_dir():  # not its parents: the run directory must exist
            self.log_dir.mkdir()
            fsync_dir(self.log_dir.parent)  # or a power cut loses log/ and all it holds
        self._open_segment(base_seq)
        self._fsyncer = FsyncThread(on_error, f"{name}-fsync") if fsync == "commit" else None

    @property
    def is_open(self) -> bool:
        return self._fd >= 0 and not self.gone

    def room(self) -> int:
        """Estimated bytes the next chunk may hold: 0 while failed writes keep about
        ``max_pending_bytes`` in memory (the bound holds to within one chunk)."""
        if not self._pending:
            return CHUNK_BYTES
        return max(0, min(CHUNK_BYTES, self.max_pending_bytes - self.pending_bytes))

    def rotate_if_full(self) -> None:
        """Start a new segment when this one is full and nothing is pending for it."""
        if not self._pending and self._offset >= self.segment_bytes:
            self._rotate()

    def encode(self, batch: list[tuple[int, float, Any, int]]) -> None:
        """Pack ``(type, ts, body)`` records into pending frames, assigning their seqs.

        A callable ``body`` is evaluated here, on the writer thread.
        """
        packed: list[bytes] = []
        for rtype, ts, body, _ in batch:
            if callable(body):
                try:
                    body = body()
                except Exception as exc:  # keep the run alive
                    body = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                try:
                    rec = pack_record(rtype, ts, body)
                except UnicodeEncodeError:  # a lone surrogate that got past the checks
                    rec = pack_record(rtype, ts, clean_text_deep(body))
            except Exception as exc:  # a validation gap must not kill us
                self._on_lost(1, f"unpackable record of type {rtype}: {exc}")
                continue
            if len(rec) + OVERHEAD > MAX_FRAME:
                self._on_lost(1, f"record of type {rtype} is {len(rec)} bytes, over a frame")
                continue
            packed.append(rec)
        if not packed:
            return
        data = b"".join(split_frames(packed, self.next_seq, self._seed))
        self.next_seq += len(packed)
        self._pending.append((data, len(packed)))
        self.pending_bytes += len(data)
        self.pending_records += len(packed)

    def write(self) -> bool:
        """Write what is pending with one pwrite; False when it is still pending (a
        write error: retried at the next call) or the segment is gone."""
        if self.gone:
            return False
        if self._pending:
            self._write_pending()
        return not self._pending

    def sync(self, now: float) -> None:
        """fsync=commit: ask for an fsync of what was written, at most once per
        ``sync_every`` seconds (the FsyncThread does it)."""
        if self._dirty and self._fsyncer is not None and now - self._synced_at >= \
                self.sync_every:
            self._dirty = False
            self._synced_at = now
            self._fsyncer.request(self._fd)

    def discard(self) -> int:
        """Drop the pending frames (the thread is stopping); returns how many records."""
        lost = self.pending_records
        self._pending.clear()
        self.pending_bytes = self.pending_records = 0
        return lost

    def close(self) -> None:
        """fsync (unless the policy is ``never``) and close the segment."""
        fd, self._fd = self._fd, -1
        if self._fsyncer is not None:
            self._fsyncer.stop()
        self._close_fd(fd)

    def detach(self) -> None:
        """In a forked child: close this copy of the fd, no fsync, no more writes (the
        fsync thread did not survive the fork)."""
        self._fsyncer = None
        self._pending = deque()
        self.pending_bytes = self.pending_records = 0
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    # -- internals -----------------------------------------------------------

    def _write_pending(self) -> None:
        """Write every pending frame with one pwrite; on error keep them for a retry."""
        data = b"".join(d for d, _ in self._pending) if len(self._pending) > 1 else \
            self._pending[0][0]
        count = self.pending_records
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
            if exc.errno in _GONE_ERRNOS:
                self._gone(count)
                return
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
            self.failing = True
            self._on_error("write", exc)
            return
        self.failing = False
        self._offset += done
        self._pending.clear()
        self.pending_bytes = self.pending_records = 0
        self.written += count
        self.bytes_written += done
        self._dirty = True
        if _unlinked(self._fd):
            self.written -= count
            self._gone(count)

    def _gone(self, count: int) -> None:
        """The segment was deleted (the run directory removed under the live run)."""
        self.gone = True
        self._pending.clear()
        self.pending_bytes = self.pending_records = 0
        self._on_lost(count, f"the run directory {self.log_dir.parent} was deleted")

    def _rotate(self) -> None:
        old = self._fd
        try:
            self._open_segment(self.next_seq)
        except OSError as exc:
            self._on_error("open new segment", exc)  # keep appending to the old one
            return
        self._close_fd(old)

    def _open_segment(self, base_seq: int) -> None:
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
            fsync_dir(self.log_dir)  # the new name: without it a power cut loses the segment
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._seed, self._offset = fd, header.seed, len(raw)
        self.segments += 1

    def _close_fd(self, fd: int) -> None:
        if fd < 0:
            return
        if self._fsyncer is not None:
            self._fsyncer.forget(fd)
        try:
            if self.fsync_policy != "never" and not self.gone:
                datasync(fd)
        except OSError as exc:
            self._on_error("fsync", exc)
        with contextlib.suppress(OSError):
            os.close(fd)


def _unlinked(fd: int) -> bool:
    """True when the file behind ``fd`` has no name any more (deleted)."""
    try:
        return os.fstat(fd).st_nlink == 0
    except OSError:
        return False
