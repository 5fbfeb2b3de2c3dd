"""Follow one live run to a tracking server until its EXIT is acknowledged.

This is the process the SDK starts in online and hybrid modes (`runwal
follow`; the command-line glue is in `syncer.cli.follow`, which also picks
the server: the follower sees only a `Destination`). The training process never
talks HTTP: it appends to its WAL, and this process tails the WAL into MLflow.
Its life:

1. Contact the server (`Follower.contact`): one ping within
   ``connect_timeout`` (online: fail fast, before the SDK has created
   anything), or retried for up to ``wait_server`` seconds (hybrid: ``inf``,
   bounded in practice by the catch-up deadline of step 5).
2. Announce ``ready <checkpoint path inside the run dir>``; the SDK waits for
   that line in online mode and reads the checkpoint to show progress at finish().
3. Wait for run.json: online mode starts us *before* the run directory exists,
   so that a refused server leaves no half-made run behind.
4. Deliver: passes of `sync_run(follow=True)` until the EXIT record (at or past
   ``until_seq``, see resumed runs) is acknowledged. A pass that failed because
   the server went away is retried with capped exponential backoff; a permanent
   refusal (auth, deleted experiment) ends the follower with status 1.
5. Parent gone: when ``parent_pid`` dies without an EXIT record (kill -9, the
   OOM killer), after ``grace`` seconds the follow pass is stopped and one last
   pass sends what is on disk; the server run is left RUNNING, exactly as
   `runwal sync` leaves an unfinished run. From the parent's death on, the
   follower gives up after ``catch_up`` seconds if the server does not take
   the data.

Throughout, the follower tells the SDK whether the server answers
(``sync/follow.state``, `schema.follow_protocol.write_server_state`), on
transitions only: ``down`` when a contact or a pass failed because the server
cannot be reached and it is going to retry, ``up`` once the server answered
again (a contact, an acknowledged batch, a pass that ended well). A hybrid
run's finish() then returns at once while the server is down instead of
waiting its whole ``sync_timeout``.

``abort`` (SIGTERM/SIGINT, or the catch-up deadline) stops the follower after
the batch in flight. Nothing is ever lost by stopping: the checkpoint lets a
later `runwal sync` finish the job exactly once. While delivering, the
follower holds ``sync/<sink>.lock`` (`syncer.engine.synclock`) so that such a
`runwal sync` cannot run concurrently with it.

One module (~310 lines) on purpose: the five phases above share the follower's
state (parent watch, contact, server state, deadlines) and read in order.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from schema import follow_protocol as protocol
from schema.layout import RunDir, run_created
from syncer.engine import checkpoint
from syncer.engine.replay import sync_run
from syncer.engine.result import SyncResult
from syncer.engine.synclock import SyncLock
from syncer.errors import ServerUnavailable
from syncer.sinks.base import Destination

EXIT_OK = 0  # EXIT acknowledged; or parent gone and what is on disk delivered; or SIGTERM
EXIT_FAILED = 1  # server refused for good, or still unreachable at the catch-up deadline
WATCH_INTERVAL = 0.25
CONTACT_SLICE = 30.0  # one ping's retry budget while waiting for the server
FIRST_TRY = 1.0  # the first ping's retry budget when waiting: say "down" before finish() waits


@dataclass(frozen=True)
class FollowOptions:
    parent_pid: int | None = None
    wait_server: float = 0.0  # 0: one ping within connect_timeout; inf: until catch-up
    catch_up: float = 3600.0  # seconds after the parent's death before giving up
    grace: float = 2.0  # seconds after the parent's death before the follow pass stops
    until_seq: int = -1
    connect_timeout: float = 5.0
    poll_interval: float = 0.5
    retry_cap: float = 60.0  # longest sleep between two failed passes


class ParentWatch:
    """Whether the process that started us still lives.

    psutil compares the process start time, so a recycled pid is not mistaken
    for the parent, and a zombie (killed, not yet reaped) counts as dead.
    """

    def __init__(self, pid: int | None):
        self.pid = pid
        self.gone_at: float | None = None
        self._proc: psutil.Process | None = None
        if pid is not None:
            try:
                self._proc = psutil.Process(pid)
            except psutil.Error:
                self.gone_at = time.monotonic()

    def alive(self) -> bool:
        if self.pid is None:
            return True
        if self.gone_at is not None or self._proc is None:
            return False
        try:
            ok = self._proc.is_running() and self._proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            ok = False
        if not ok:
            self.gone_at = time.monotonic()
        return ok

    def gone_for(self) -> float:
        return 0.0 if self.gone_at is None else time.monotonic() - self.gone_at


class Follower:
    """One run, one server. ``run()`` returns the process exit status."""

    def __init__(
        self,
        run_dir: Path,
        dest: Destination,
        opts: FollowOptions,
        *,
        abort: threading.Event,
        say: Callable[[str], None],
    ):
        self.run_dir, self.dest, self.opts, self.abort, self.say = run_dir, dest, opts, abort, say
        self.parent = ParentWatch(opts.parent_pid)
        self.sink_name = dest.sink_name
        self.lock = SyncLock(run_dir, self.sink_name)
        self.follow_stop = threading.Event()  # parent gone past the grace, or abort
        self.gave_up = False
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._server_up: bool | None = None  # what sync/follow.state says; None: nothing yet

    @property
    def checkpoint_path(self) -> str:
        """The checkpoint file, relative to the run directory (for the ready line)."""
        path = checkpoint.path_for(RunDir(self.run_dir), self.sink_name)
        return str(path.relative_to(self.run_dir))

    # -- phases ------------------------------------------------------------

    def run(self, announce: Callable[[str], None], on_run_dir: Callable[[], None]) -> int:
        """Phases 1-5; contact failures raise (SyncError) before ``announce``."""
        self._watcher = threading.Thread(target=self._watch, name="runwal-follow-watch",
                                         daemon=True)
        self._watcher.start()
        try:
            try:
                self.contact()
            except ServerUnavailable as exc:
                if self.opts.wait_server > 0 and self.abort.is_set():
                    return self._stopped(exc.message)
                raise
            announce(protocol.ready_line(self.checkpoint_path))
            if not self.wait_for_run():
                return self._stopped("the run directory never appeared")
            on_run_dir()
            if not self.take_lock():
                return self._stopped("another syncer kept the run busy")
            return self.deliver()
        finally:
            self._watch_stop.set()
            self._watcher.join(timeout=5.0)
            self.lock.release()

    def contact(self) -> None:
        """Phase 1: ServerUnavailable / AuthFailed / ServerRejected when it fails."""
        o = self.opts
        if o.wait_server <= 0:
            self.dest.check(o.connect_timeout)
            return
        end = time.monotonic() + o.wait_server
        noted = False
        while True:
            # a short first try, so that the log and sync/follow.state say at once what
            # it is waiting for (a hybrid finish() right after init() reads the latter)
            budget = min(o.connect_timeout, FIRST_TRY) if not noted else max(
                o.connect_timeout, min(CONTACT_SLICE, end - time.monotonic()))
            try:
                self.dest.check(budget)
            except ServerUnavailable as exc:
                if self.abort.is_set() or time.monotonic() >= end:
                    raise
                self._server_state(False, exc.message)
                if not noted:
                    noted = True
                    self.say(f"{exc.message}; retrying until it answers")
                continue
            self._server_state(True)
            if noted:
                self.say("the server answers")
            return

    def wait_for_run(self) -> bool:
        """Phase 3: True once run.json exists (a stream's: `run_created`); False if the
        parent died first."""
        while not run_created(self.run_dir):
            if self.abort.is_set() or not self.parent.alive():
                return False
            self.abort.wait(0.05)
        return True

    def take_lock(self) -> bool:
        noted = False
        while not self.lock.acquire():
            if not noted:
                noted = True
                self.say(self.lock.busy_reason() + "; waiting for it")
            if self.abort.wait(1.0):
                return False
        return True

    def deliver(self) -> int:
        """Phases 4-5."""
        backoff = 1.0
        while True:
            following = not self.follow_stop.is_set()
            res = self._pass(following)
            if res.status != "failed" and res.finished:
                return self._done(res)
            if self.abort.is_set():
                return self._stopped(res.reason or "stopped")
            if res.status == "failed":
                if not res.retryable:
                    self.say(f"cannot sync: {res.reason}")
                    return EXIT_FAILED
                self._server_state(False, res.reason)
                if res.records:
                    backoff = 1.0
                self.say(f"{res.reason}; next try in {backoff:.0f}s")
                self.abort.wait(backoff)
                backoff = min(backoff * 2, self.opts.retry_cap)
                continue
            self._server_state(True)
            if following:
                continue  # the parent died: one last pass reads what it left
            self.say(
                f"the training process ended without an exit record; synced what is on "
                f"disk (up to seq {res.last_seq}); the server run stays RUNNING"
            )
            return EXIT_OK

    # -- helpers -----------------------------------------------------------

    def _pass(self, following: bool) -> SyncResult:
        sink = self.dest.new_sink()
        try:
            return sync_run(
                self.run_dir,
                sink,
                follow=following,
                stop=self.follow_stop if following else self.abort,
                poll_interval=self.opts.poll_interval,
                until_seq=self.opts.until_seq,
                progress=lambda _res: self._server_state(True),  # a batch acknowledged
            )
        finally:
            sink.close()

    def _server_state(self, up: bool, why: str = "") -> None:
        """Tell the SDK whether the server answers, when that changed (never raises).

        No file says "up" (the SDK's default) until a "down" needs retracting, and
        nothing is noted before the run directory exists (online's first contact).
        """
        if self._server_up is up or not os.path.isdir(self.run_dir):
            return
        first, self._server_up = self._server_up is None, up
        if up and first:
            return
        protocol.write_server_state(self.run_dir, up=up, why=why)

    def _done(self, res: SyncResult) -> int:
        extra = f"; {res.reason}" if res.reason else ""
        self.say(
            f"run {res.run_id} synced to {self.dest.uri} as {res.server_run_id} "
            f"(last seq {res.last_seq}){extra}"
        )
        for rej in res.rejected[:20]:
            self.say(f"rejected {rej.describe()}")
        return EXIT_OK

    def _stopped(self, why: str) -> int:
        if self.gave_up:
            self.say(
                f"gave up {self.opts.catch_up:.0f}s after the training process ended ({why}); "
                f"`runwal sync {self.run_dir}` finishes the job"
            )
            return EXIT_FAILED
        if self.abort.is_set():
            self.say(f"stopped ({why}); `runwal sync {self.run_dir}` resumes where it stopped")
        return EXIT_OK

    def _watch(self) -> None:
        """Turns the parent's death into follow_stop (after grace) and abort (after catch-up)."""
        while not self._watch_stop.wait(WATCH_INTERVAL):
            if self.abort.is_set():
                self.follow_stop.set()
                continue
            if self.parent.alive():
                continue
            gone = self.parent.gone_for()
            if gone >= self.opts.grace:
                self.follow_stop.set()
            if gone >= self.opts.catch_up:
                self.gave_up = True
                self.abort.set()
