"""The bounded queue between ``log()`` and the writer thread, and its back-pressure.

What a ``kill -9`` loses is exactly this queue: records that ``log()``
acknowledged and the writer has not yet handed to the kernel. So the queue is
bounded by *age*, not only by size: ``put()`` looks at the oldest record not
yet written (the queue's head, or the oldest record the writer is encoding
or holding for a retry) and, when it is older than ``max_lag`` (the flush
interval), waits for the writer before acknowledging another one. Whatever
the logging rate, a ``kill -9`` then loses at most about one flush interval of
acknowledged records: a training loop that logs faster than the writer can
encode is slowed to the writer's pace instead of running ahead of it.

Two exceptions, both stated in the README's crash-safety table:

* While the disk refuses writes (ENOSPC, EIO: ``lag_applies`` is False) the age
  rule is suspended: the records are kept, bounded as below, and written when
  the disk comes back, instead of being dropped after one flush interval.
* Memory is bounded whatever the age: at most ``max_records`` records and
  ``max_bytes`` of estimated size (the caller's estimate: the strings and
  lists of a record plus ~64 bytes a value), so that huge rows cannot pile
  up gigabytes between two flushes.

When ``put()`` must wait it wakes the writer and waits as long as the writer
makes progress (every written chunk resets the clock, and so does the writer
being busy with one slow record body); after ``put_timeout`` seconds without
progress (a stuck disk) it drops the record, counts it and queues a one-time
warning, and *sheds*: later puts drop at once until the writer has moved
again, so a stuck disk costs the training loop one stall, not one per call.

Only the caller's side appends and only the writer pops; a deque's append and
popleft are atomic under the GIL, so no lock is taken on the hot path. Byte
counts are two counters, one per side, so neither side writes the other's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

MAX_RECORDS = 100_000
MAX_BYTES = 64 * 1024 * 1024
PUT_TIMEOUT = 0.5
INF = float("inf")

Item = tuple[int, float, Any, int]  # (type, ts, body, estimated bytes)
OnDrop = Callable[[], None]


class Backlog:
    """Records acknowledged by put() and not yet written, with the rules that bound them."""

    def __init__(self, *, max_lag: float, on_drop: OnDrop, max_records: int = MAX_RECORDS,
                 max_bytes: int = MAX_BYTES, put_timeout: float = PUT_TIMEOUT) -> None:
        self.items: deque[Item] = deque()
        self.max_lag = max_lag
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.put_timeout = put_timeout
        self.wake_at = max(1, min(8192, max_records // 4))
        self.wake = threading.Event()  # set: the writer should run now
        self._progress = threading.Event()  # set by the writer after each written chunk
        self._on_drop = on_drop
        self.in_bytes = 0  # estimated bytes put (caller side)
        self.out_bytes = 0  # estimated bytes taken (writer side)
        self.inflight_ts = INF  # oldest ts the writer took and has not written yet
        self.lag_applies = True  # False while the disk refuses writes
        self.busy = False  # the writer is evaluating a slow record body
        self.shedding = False
        self.closed = False
        self.writer_thread: threading.Thread | None = None
        self.dropped = 0
        self._drop_lock = threading.Lock()

    # -- caller side -----------------------------------------------------------

    def put(self, rtype: int, ts: float, body: Any, nbytes: int = 0, block: bool = True) -> bool:
        """Queue one record; False when it was dropped (counted). Never raises."""
        q = self.items
        if q:
            try:
                head = q[0][1]
            except IndexError:  # the writer just took it
                head = INF
            oldest = head if head < self.inflight_ts else self.inflight_ts
        else:
            oldest = self.inflight_ts
        if ((self.lag_applies and ts - oldest > self.max_lag) or len(q) >= self.max_records
                or (nbytes and self.in_bytes + nbytes - self.out_bytes > self.max_bytes)) \
                and not self._make_room(nbytes, block):
            return False
        q.append((rtype, ts, body, nbytes))
        if nbytes:
            self.in_bytes += nbytes
        if len(q) >= self.wake_at and not self.wake.is_set():
            self.wake.set()
        return True

    def oldest(self) -> float:
        """ts of the oldest record not yet written (INF when there is none)."""
        q = self.items
        try:
            head = q[0][1] if q else INF
        except IndexError:
            head = INF
        return min(head, self.inflight_ts)

    def queued_bytes(self) -> int:
        return max(0, self.in_bytes - self.out_bytes)

    def _full(self, nbytes: int, lag: bool) -> bool:
        if len(self.items) >= self.max_records:
            return True
        queued = self.in_bytes - self.out_bytes
        if queued > 0 and queued + nbytes > self.max_bytes:
            return True
        return lag and self.lag_applies and time.time() - self.oldest() > self.max_lag

    def _make_room(self, nbytes: int, block: bool) -> bool:
        if self.closed:
            return self._drop()
        # The age rule holds back the training loop's calls only: a put that cannot
        # wait (stats samples, console chunks drained on the writer thread) is
        # bounded by size alone.
        lag = block and threading.current_thread() is not self.writer_thread
        if not self._full(nbytes, lag):
            return True
        if lag and not self.shedding:
            self.wake.set()
            deadline = time.monotonic() + self.put_timeout
            while not self.closed:
                now = time.monotonic()
                if now >= deadline:
                    break
                self._progress.clear()
                if not self._full(nbytes, lag):
                    return True
                if self._progress.wait(min(deadline - now, 0.05)) or self.busy:
                    deadline = time.monotonic() + self.put_timeout  # moving: keep waiting
            if not self._full(nbytes, lag):
                return True
            self.shedding = True
        return self._drop()

    def _drop(self) -> bool:
        with self._drop_lock:
            self.dropped += 1
        self._on_drop()
        return False

    # -- writer side -----------------------------------------------------------

    def take(self, max_records: int, max_bytes: int) -> list[Item]:
        """Pop the oldest records, up to ``max_records`` and about ``max_bytes``; they
        count as in flight (unwritten) until ``written()``."""
        q = self.items
        if not q:
            return []
        head = q[0][1]
        if head < self.inflight_ts:
            self.inflight_ts = head  # before the pop: never invisible to put()
        out: list[Item] = []
        size = 0
        while q and len(out) < max_records and size < max_bytes:
            item = q.popleft()
            out.append(item)
            size += item[3]
        self.out_bytes += size
        return out

    def written(self, ok: bool) -> None:
        """After a write attempt: ``ok`` means nothing taken is held any more."""
        if not ok:
            self.lag_applies = False  # keep records for the retry, bounded by size
            return
        self.inflight_ts = INF
        self.lag_applies = True
        if self.shedding and len(self.items) < self.max_records // 2:
            self.shedding = False
        self._progress.set()

    def discard(self) -> int:
        """Drop everything queued (closing, or the run directory is gone); how many."""
        n = 0
        q = self.items
        while q:
            self.out_bytes += q.popleft()[3]
            n += 1
        self.inflight_ts = INF
        self._progress.set()
        return n

    def after_fork(self) -> None:
        """In a forked child: nothing queued, every put drops, and a fresh lock (another
        thread of the parent may have held it at the fork)."""
        self._drop_lock = threading.Lock()
        self.items.clear()
        self.close()

    def close(self) -> None:
        """No more records: later puts drop, waiting puts give up."""
        self.closed = True
        self.max_records = 0  # every later put() takes the slow path, which drops
        self._progress.set()
