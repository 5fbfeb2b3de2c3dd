"""The ``runwal syncd`` engine: worker threads running the passes a `Schedule` hands out.

The caller's thread runs `Daemon.run`: under one condition variable it asks
the schedule for due runs, puts them on the job queue, emits held-back
progress lines, and sleeps until the next deadline, a change (`notify`, from
the watcher's threads) or a finished pass wakes it. Passes run on
``schedule.workers`` threads named ``runwal-syncd-N``; the queue never holds
more jobs than that, because the schedule counts queued and running passes
against the same limit.

Stopping: the caller sets ``stop`` (SIGTERM, Ctrl-C). The loop notices within
`MAX_WAIT`, jobs not yet started are dropped, and passes in flight see the
same event inside `sync_run` and end after their batch, with its checkpoint
written. Each worker gets a ``None`` sentinel and is joined with a timeout;
then runs with deferred artifacts get their upload (within the same time
budget), so a stopped daemon leaves no console log behind.

A pass that raises (a bug, not a server or format problem: those come back
as a failed `SyncResult`) is turned into a failed result and reported once
like a bad run, so one strange run directory never ends the daemon.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from schema.layout import is_run_dir
from syncer.daemon.schedule import Event, Schedule, Slot
from syncer.engine.result import SyncResult

PassFn = Callable[[Path, str], SyncResult]  # (run dir, artifacts mode of sync_run)
EmitFn = Callable[[Event], None]
MAX_WAIT = 0.2  # seconds: the loop looks at the stop event at least this often


class Daemon:
    """``Daemon(schedule, run_pass, emit).run(stop)``; ``emit`` must be thread-safe."""

    def __init__(
        self,
        schedule: Schedule,
        run_pass: PassFn,
        emit: EmitFn,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.schedule = schedule
        self._run_pass = run_pass
        self._emit = emit
        self._clock = clock
        self._cond = threading.Condition()
        self._jobs: queue.SimpleQueue[Slot | None] = queue.SimpleQueue()
        self.stuck = 0  # workers still busy when `run` gave up joining them

    def notify(self, name: str, *, initial: bool = False) -> None:
        """Run ``name`` may have changed (thread-safe; called by the watcher)."""
        with self._cond:
            self.schedule.notify(name, self._clock(), initial=initial)
            self._cond.notify()

    def mark_down(self, reason: str) -> None:
        with self._cond:
            event = self.schedule.mark_down(reason)
        self._emit(event)

    def run(self, stop: threading.Event, *, once: bool = False, join_timeout: float = 30.0) -> None:
        """Schedule passes until ``stop`` is set (``once``: until nothing is left to do)."""
        workers = [
            threading.Thread(target=self._work, args=(stop,), name=f"runwal-syncd-{i}",
                             daemon=True)
            for i in range(self.schedule.workers)
        ]
        for t in workers:
            t.start()
        try:
            self._loop(stop, once)
        finally:
            for _ in workers:
                self._jobs.put(None)
            end = self._clock() + join_timeout
            for t in workers:
                t.join(max(0.0, end - self._clock()))
            self.stuck = sum(t.is_alive() for t in workers)
            if not self.stuck:
                self._last_uploads(end)
            with self._cond:
                events = self.schedule.progress_lines(self._clock(), force=True)
            for ev in events:
                self._emit(ev)

    def _last_uploads(self, end: float) -> None:
        with self._cond:
            slots = self.schedule.flush_all()
        for slot in slots:
            if self._clock() >= end:  # out of time: the next syncd or sync uploads them
                with self._cond:
                    self.schedule.cancel(slot)
                continue
            self._pass(slot)

    def _pass(self, slot: Slot) -> None:
        """Run one pass for ``slot``, hand its result to the schedule, log its events."""
        result = self._one(slot.path, slot.artifacts)
        with self._cond:
            events = self.schedule.done(slot, result, self._clock())
            self._cond.notify()
        for ev in events:
            self._emit(ev)

    def _loop(self, stop: threading.Event, once: bool) -> None:
        with self._cond:
            while not stop.is_set():
                now = self._clock()
                for slot in self.schedule.take(now):
                    self._jobs.put(slot)
                for ev in self.schedule.progress_lines(now):
                    self._emit(ev)
                if once and self.schedule.idle():
                    return
                wait = self.schedule.next_wake(now)
                self._cond.wait(MAX_WAIT if wait is None else min(wait, MAX_WAIT))
            busy = self.schedule.in_flight
        self._emit(Event("stopping", f"stopping; finishing {busy} pass(es) in flight",
                         {"in_flight": busy}))

    def _work(self, stop: threading.Event) -> None:
        while True:
            slot = self._jobs.get()
            if slot is None:
                return
            if stop.is_set():
                with self._cond:
                    self.schedule.cancel(slot)
                continue
            self._pass(slot)

    def _one(self, path: Path, artifacts: str) -> SyncResult | None:
        if not is_run_dir(path):
            return None
        try:
            return self._run_pass(path, artifacts)
        except Exception as exc:  # a bug: report it with the run, keep the daemon alive
            res = SyncResult(run_dir=str(path), run_id=path.name, status="failed",
                             reason=f"internal error: {type(exc).__name__}: {exc}")
            frames = traceback.extract_tb(exc.__traceback__)
            if frames:
                res.notes.append(f"at {frames[-1].filename}:{frames[-1].lineno} "
                                 f"in {frames[-1].name}")
            return res
