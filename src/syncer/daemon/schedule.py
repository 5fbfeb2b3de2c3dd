"""``runwal syncd``'s rules for which run gets a pass and when, without threads.

`Schedule` is a state machine driven by its caller (`syncer.daemon.workers`): it is
told the time, the names of runs that changed and the results of passes, and
answers with the runs to start now and the `Event`s worth a log line. Keeping
the rules here, apart from threads and clocks, lets a test step through them.

The rules:

* **Debounce.** The first change of an idle run makes it due ``debounce``
  seconds later; changes before then ride along, since a pass reads everything
  on disk. The delay is counted from the *first* change, not the last, so a
  run that writes every 100 ms is still synced every ``debounce`` + a pass,
  never starved by its own writes.
* **One pass per run at a time.** A change seen while a run's pass is in
  flight marks it dirty again, so exactly one more pass follows.
* **Bounded.** At most ``workers`` passes are handed out at once and a run has
  one entry however often it changes: nothing queues up but run names.
* **Server away.** A pass that failed because the server did not answer
  (``SyncResult.retryable``) makes its run due again after a jittered
  exponential backoff (`Backoff`). The first such failure logs "server
  unreachable"; while it lasts at most one pass runs at a time (a probe), so a
  recovering server is not hit by every run at once. The first pass that gets
  data through logs "server back" and makes every waiting run due at once.
* **Bad runs.** A pass that failed for another reason (unreadable run.json,
  the server refused the run) is reported once per distinct reason; the run
  is left alone until it changes again.
* **Busy runs.** A run another process is delivering (a ``runwal follow``
  started by the SDK holds ``sync/<sink>.lock``, see `syncer.engine.synclock`) is
  skipped, said once, and looked at again every `BUSY_RETRY` seconds, so it
  is finished here if that process dies before delivering it.
* **Artifacts later.** A pass defers the console log and config.json
  uploads (each would re-send the whole growing output.log); the run gets a
  pass that uploads them `ARTIFACT_INTERVAL` seconds after the first deferral,
  even if it has gone quiet. A finished run uploads them with its EXIT.
* **Quiet progress.** Synced-to-seq lines are rate-limited per run
  (``log_every``), the last one is never dropped, and a run's finish is
  always logged.

Over 300 lines on purpose: these rules are one state machine (the server-down
probe limits what ``take`` hands out, busy and failed runs share the
once-per-reason memory, deferred uploads ride on the same due times), and
this docstring is a seventh of it; split, each half would need the other's
invariants to be read.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncer.engine.result import SyncResult

LOG_EVERY = 10.0  # seconds between two "synced to seq N" lines of one run
BUSY_RETRY = 5.0  # seconds between looks at a run another process is syncing
ARTIFACT_INTERVAL = 10.0  # seconds an upload of output.log / config.json may wait


@dataclass(frozen=True)
class Event:
    """Something the daemon logs: ``kind`` for scripts, ``message`` for people.

    Kinds: start, discovered, synced, finished, failed, busy, warning,
    server_down, server_up, stopping, stopped.
    """

    kind: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


def _start(slot: Slot) -> float:
    """When ``slot`` wants its next pass: a change's debounce or backoff, or an upload."""
    return min(slot.due if slot.dirty else math.inf, slot.flush_due)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random,
    so retries spread out but never collapse to zero and hammer the server."""

    base: float = 1.0
    cap: float = 30.0

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        step = min(self.cap, self.base * 2 ** min(max(failures, 1) - 1, 30))
        return step / 2 + (rng or random).uniform(0.0, step / 2)


@dataclass(eq=False)
class Slot:
    """One run's scheduling state (the schedule holds exactly one per run)."""

    name: str
    path: Path
    initial: bool = False  # present when the daemon started (no "discovered" line)
    dirty: bool = False
    due: float = 0.0
    running: bool = False
    artifacts: str = "defer"  # what the pass handed out does with artifacts (sync_run)
    flush_due: float = math.inf  # when deferred artifacts must be uploaded
    failures: int = 0  # consecutive retryable failures
    bad: str = ""  # the failure last reported for this run
    announced: bool = False
    finished: bool = False
    run_id: str = ""
    seq: int = -1
    points: int = 0  # metric rows since the last progress line
    logged_seq: int = -1
    logged_at: float = -math.inf


class Schedule:
    def __init__(
        self,
        root: Path,
        *,
        workers: int = 4,
        debounce: float = 0.05,
        backoff: Backoff | None = None,
        once: bool = False,
        log_every: float = LOG_EVERY,
        rng: random.Random | None = None,
    ):
        """Runs are the directories ``root/<name>``; ``once``: a failed pass is final,
        never retried."""
        self.root = root
        self.workers = max(1, workers)
        self.debounce = debounce
        self.backoff = backoff or Backoff()
        self.once = once
        self.log_every = log_every
        self.rng = rng
        self.runs: dict[str, Slot] = {}
        self.in_flight = 0
        self.server_down = False
        self.failed: set[str] = set()  # runs whose last pass failed
        self._dirty: set[str] = set()
        self._flushing: set[str] = set()  # runs with deferred artifacts
        # (start, n, name) whenever a run's start time (`_start`) is set: `take` and
        # `next_wake` pop and peek instead of sorting every waiting run (10,000 runs
        # present at start-up cost ~20 s of sorting before). Entries that no longer
        # match their run (taken, running, rescheduled) are dropped when they surface.
        self._heap: list[tuple[float, int, str]] = []
        self._n = itertools.count()
        self._unlogged: set[str] = set()  # runs synced past their last progress line

    # -- inputs ------------------------------------------------------------
    def notify(self, name: str, now: float, *, initial: bool = False) -> None:
        """Run ``name`` (a directory under root) may have changed."""
        slot = self.runs.get(name)
        if slot is None:
            slot = self.runs[name] = Slot(name, self.root / name, initial=initial)
        if not slot.dirty:
            slot.dirty, slot.due = True, now + self.debounce
            self._dirty.add(name)
            self._push(slot)

    def mark_down(self, reason: str) -> Event:
        """The server did not answer before any pass ran (the daemon's first ping)."""
        self.server_down = True
        return Event("server_down", f"server unreachable: {reason}; will retry",
                     {"reason": reason})

    def take(self, now: float) -> list[Slot]:
        """Runs to start now, oldest change first, within the worker limit."""
        free = self._limit() - self.in_flight
        if free <= 0:
            return []
        ready: list[Slot] = []
        while len(ready) < free and (slot := self._top()) is not None and _start(slot) <= now:
            heapq.heappop(self._heap)
            ready.append(slot)
        for slot in ready:
            slot.artifacts = "flush" if self.once or slot.flush_due <= now else "defer"
            if slot.artifacts == "flush":
                slot.flush_due = math.inf
                self._flushing.discard(slot.name)
            slot.dirty, slot.running = False, True  # the pass reads everything on disk
            self._dirty.discard(slot.name)
            self.in_flight += 1
        return ready

    def flush_all(self) -> list[Slot]:
        """Runs with deferred artifacts, handed out for a last upload (stopping)."""
        out = [s for n in sorted(self._flushing) if not (s := self.runs[n]).running]
        for slot in out:
            slot.artifacts, slot.flush_due, slot.running = "flush", math.inf, True
            self._flushing.discard(slot.name)
            self.in_flight += 1
        return out

    def cancel(self, slot: Slot) -> None:
        """A handed-out run that was not started (the daemon is stopping)."""
        slot.running = False
        self.in_flight -= 1
        self._push(slot)

    def done(self, slot: Slot, result: SyncResult | None, now: float) -> list[Event]:
        """A pass ended; ``result`` None: the directory is not (or no longer) a run."""
        try:
            return self._done(slot, result, now)
        finally:
            self._push(slot)  # dirty again, backing off or an upload due: its next start

    def _done(self, slot: Slot, result: SyncResult | None, now: float) -> list[Event]:
        slot.running = False
        self.in_flight -= 1
        if result is None:
            if not slot.dirty:
                self.runs.pop(slot.name, None)
                self._unlogged.discard(slot.name)
                self._flushing.discard(slot.name)
            return []
        slot.run_id = result.run_id or slot.run_id or slot.name
        if result.artifacts_pending and slot.flush_due == math.inf:
            slot.flush_due = now + ARTIFACT_INTERVAL
            self._flushing.add(slot.name)
        events = []
        if not slot.announced:
            slot.announced = True
            if not slot.initial:
                events.append(self._event("discovered", slot, f"discovered ({slot.path})"))
        if result.status == "failed" and result.retryable and not self.once:
            events += self._retry_later(slot, result, now)
        elif result.busy:
            if not self.once:
                slot.dirty, slot.due = True, now + BUSY_RETRY
                self._dirty.add(slot.name)
            if result.reason != slot.bad:
                slot.bad = result.reason
                events.append(self._event("busy", slot, result.reason, reason=result.reason))
        elif result.status == "failed":
            slot.failures = 0
            self.failed.add(slot.name)
            if result.reason != slot.bad:
                slot.bad = result.reason
                first = result.notes[0].splitlines()[0] if result.notes else ""
                events.append(self._event(
                    "failed", slot, f"failed: {result.reason}" + (f" ({first})" if first else ""),
                    reason=result.reason, notes=result.notes[:5]))
        else:
            self.failed.discard(slot.name)
            got_through = slot.failures > 0 or result.records > 0
            slot.failures, slot.bad = 0, ""
            if self.server_down and got_through:
                events.append(self._server_up(now))
            events += self._progress(slot, result, now)
        return events

    # -- outputs -----------------------------------------------------------
    def next_wake(self, now: float) -> float | None:
        """Seconds until something is due (a run, a progress line); None: nothing waits."""
        times = [self.runs[n].logged_at + self.log_every for n in self._unlogged]
        if self.in_flight < self._limit() and (slot := self._top()) is not None:
            times.append(_start(slot))
        return max(0.0, min(times) - now) if times else None

    def progress_lines(self, now: float, *, force: bool = False) -> list[Event]:
        """Progress lines held back by the rate limit that are due (all with ``force``)."""
        out = []
        for name in sorted(self._unlogged):
            slot = self.runs[name]
            if force or now - slot.logged_at >= self.log_every:
                out.append(self._synced(slot, now))
        return out

    def idle(self) -> bool:
        return self.in_flight == 0 and not self._dirty

    # -- internals ---------------------------------------------------------
    def _push(self, slot: Slot) -> None:
        start = _start(slot)
        if not slot.running and start < math.inf and self.runs.get(slot.name) is slot:
            heapq.heappush(self._heap, (start, next(self._n), slot.name))

    def _top(self) -> Slot | None:
        """The waiting run due first (left on the heap), dropping entries gone stale."""
        while self._heap:
            start, _, name = self._heap[0]
            slot = self.runs.get(name)
            if slot is not None and not slot.running and _start(slot) == start:
                return slot
            heapq.heappop(self._heap)
        return None

    def _limit(self) -> int:
        return 1 if self.server_down else self.workers

    def _retry_later(self, slot: Slot, result: SyncResult, now: float) -> list[Event]:
        slot.failures += 1
        delay = self.backoff.delay(slot.failures, self.rng)
        slot.dirty, slot.due = True, now + delay
        self._dirty.add(slot.name)
        if self.server_down:
            return []
        self.server_down = True
        return [Event("server_down",
                      f"server unreachable ({result.reason}); backing off, "
                      f"run {slot.run_id} retries in {delay:.1f}s",
                      {"run": slot.run_id, "reason": result.reason,
                       "retry_in": round(delay, 3)})]

    def _server_up(self, now: float) -> Event:
        self.server_down = False
        waiting = [s for n in self._dirty if (s := self.runs[n]).failures]
        for slot in waiting:
            slot.due, slot.failures = now, 0
            self._push(slot)
        return Event("server_up", f"server back; catching up {len(waiting)} waiting run(s)",
                     {"waiting": len(waiting)})

    def _progress(self, slot: Slot, result: SyncResult, now: float) -> list[Event]:
        events = []
        if result.rejected:
            first = "; ".join(r.describe() for r in result.rejected[:3])
            events.append(self._event(
                "warning", slot, f"{len(result.rejected)} value(s) refused by the server: {first}",
                rejected=[r.describe() for r in result.rejected[:20]]))
        if result.damaged:
            notes = "; ".join(result.notes[:3])
            events.append(self._event(
                "warning", slot, f"{result.damaged} damaged region(s) skipped: {notes} "
                f"(see `runwal verify {slot.path}`)", damaged=result.damaged))
        if result.status == "skipped":  # finished and already synced: nothing was read
            slot.finished = True
            return events
        slot.seq = max(slot.seq, result.last_seq)
        slot.points += result.points
        if result.finished and not slot.finished:
            slot.finished = True
            events.append(self._event("finished", slot, f"finished; synced to seq {slot.seq}",
                                      seq=slot.seq, points=slot.points))
            slot.logged_seq, slot.logged_at, slot.points = slot.seq, now, 0
            self._unlogged.discard(slot.name)
            return events
        slot.finished = result.finished
        if slot.seq > slot.logged_seq:
            if now - slot.logged_at >= self.log_every:
                events.append(self._synced(slot, now))
            else:
                self._unlogged.add(slot.name)
        return events

    def _synced(self, slot: Slot, now: float) -> Event:
        ev = self._event("synced", slot, f"synced to seq {slot.seq} (+{slot.points} points)",
                         seq=slot.seq, points=slot.points)
        slot.logged_seq, slot.logged_at, slot.points = slot.seq, now, 0
        self._unlogged.discard(slot.name)
        return ev

    def _event(self, kind: str, slot: Slot, what: str, **fields: Any) -> Event:
        return Event(kind, f"run {slot.run_id or slot.name}: {what}",
                     {"run": slot.run_id or slot.name, "path": str(slot.path), **fields})
