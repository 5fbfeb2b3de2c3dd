"""The media worker: encodes and stores rich values off both the training loop
and the writer thread.

Why a thread of its own. PNG/GIF encoding and sha256 take milliseconds (a
video, seconds). On the writer thread they would hold back every record
queued behind them, and with them ``log()``, which waits for the writer once
the oldest unwritten record is a flush interval old (wal/backlog.py): a GIF
would stall training for as long as it takes to encode. Here the caller's
thread only queues the snapshot (base.py); this thread builds each record's
body (logged.MediaJob: files stored under files/media/, complete before the
record is queued) and hands the record to the writer like any other.

Bounds, the writer queue's (wal/backlog.py) applied to this queue: by age, a
submit waits while the oldest value waiting here is older than ``max_lag``
(the flush interval), so a ``kill -9`` loses about as much of the media as
of the rows (plus the one being encoded); by memory, the snapshots waiting
here count against the writer queue's ``max_bytes``. A submit waits while
this thread makes progress (storing one slow value counts, up to
MAX_BUSY_S); after ``put_timeout`` without any (a stuck disk) the value is
dropped, counted in ``dropped`` and warned once through the writer's
notices. Rows (``history``) never wait for this queue: a GIF that takes a
second to encode holds back the next rich value, not the scalars.

Ordering. A record is queued when its files are stored, so its seq may come
after rows logged later; the body's ``step`` names its row. Records of one
key keep their order (one thread, first in first out).

The thread starts with the first rich value, and stops in ``close()`` (by
finish(), after it has drained the queue, bounded by a timeout).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from logwriter.errors import DroppedRecordsWarning, RunwalWarning
from logwriter.media.logged import MediaJob
from schema.records import RecordType

_MEDIA = int(RecordType.MEDIA)
RECORD_BYTES = 512  # the writer queue's estimate for one media record body
MAX_BUSY_S = 60.0  # one value may take this long to store before submits give up
Notices = list[tuple[type[RunwalWarning], str]]


class MediaWorker:
    """One run's media encoder thread and its bounded queue."""

    def __init__(self, put: Callable[..., bool], queued_bytes: Callable[[], int],
                 notices: Notices, *, max_lag: float, max_bytes: int, put_timeout: float,
                 name: str = "runwal-media") -> None:
        self._put = put
        self.max_lag = max_lag
        self._queued_bytes = queued_bytes  # the writer queue's estimate now
        self._notices = notices
        self.max_bytes = max_bytes
        self.put_timeout = put_timeout
        self._name = name
        self._jobs: deque[tuple[float, MediaJob]] = deque()
        self._wake = threading.Event()
        self._progress = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.in_bytes = 0  # caller side
        self.out_bytes = 0  # worker side
        self.dropped = 0
        self.done = 0
        self._busy_since = 0.0  # monotonic time the value in hand was taken, 0 when idle
        self._warned = False

    # -- caller side -------------------------------------------------------------

    def submit(self, ts: float, job: MediaJob) -> bool:
        """Queue one record's job; False when it was dropped (counted, warned once)."""
        if self._stop:
            return self._drop("the run is finishing")
        if self._jobs and self._full(job.nbytes) and not self._wait_for_room(job.nbytes):
            return self._drop("the media queue is full and the disk makes no progress")
        self._jobs.append((ts, job))
        self.in_bytes += job.nbytes
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
            self._thread.start()
        self._wake.set()
        return True

    def pending(self) -> int:
        return len(self._jobs)

    def _full(self, nbytes: int) -> bool:
        jobs = self._jobs
        try:
            oldest = jobs[0][0] if jobs else None
        except IndexError:  # the worker just finished it
            oldest = None
        if oldest is None:
            return False
        if time.time() - oldest > self.max_lag:
            return True
        held = self.in_bytes - self.out_bytes
        return held > 0 and held + self._queued_bytes() + nbytes > self.max_bytes

    def _wait_for_room(self, nbytes: int) -> bool:
        self._wake.set()
        deadline = time.monotonic() + self.put_timeout
        while time.monotonic() < deadline:
            self._progress.clear()
            if not self._full(nbytes):
                return True
            moved = self._progress.wait(min(max(deadline - time.monotonic(), 0.0), 0.05))
            busy = self._busy_since and time.monotonic() - self._busy_since < MAX_BUSY_S
            if moved or busy:
                deadline = time.monotonic() + self.put_timeout  # moving: keep waiting
        return not self._full(nbytes)

    def _drop(self, why: str) -> bool:
        self.dropped += 1
        if not self._warned:
            self._warned = True
            self._notices.append((DroppedRecordsWarning, (
                f"runwal: a rich value was dropped ({why}); counted in "
                "run.stats()['media_dropped']")))
        return False

    def close(self, timeout: float) -> bool:
        """Store what is queued, then stop; True when the thread stopped in time."""
        self._stop = True
        thread = self._thread
        if thread is None:
            return True
        self._wake.set()
        if threading.current_thread() is not thread:
            thread.join(timeout)
        return not thread.is_alive()

    def detach(self) -> None:
        """In a forked child: the thread did not survive; forget the queue."""
        self._jobs.clear()
        self._thread = None
        self._stop = True

    # -- the worker thread ---------------------------------------------------------

    def _main(self) -> None:
        jobs = self._jobs
        while True:
            self._wake.wait(1.0)
            self._wake.clear()
            while jobs:
                ts, job = jobs[0]
                self._busy_since = time.monotonic()
                body = job()  # never raises: a failure is the body's "error"
                self._put(_MEDIA, ts, body, RECORD_BYTES)
                self._busy_since = 0.0
                jobs.popleft()
                self.out_bytes += job.nbytes
                self.done += 1
                self._progress.set()
            if self._stop:
                return
