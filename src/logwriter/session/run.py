"""The user's Run: steps, log(), config, summary and finish() on top of one Backend.

(It lives in ``logwriter.session``, not at ``logwriter/run.py``, because
``logwriter.run`` is the facade's "current run" attribute, like ``wandb.run``;
a submodule of that name would shadow it.)

A Run is cheap to call and hard to break: every method validates on the
caller's thread and then only queues; problems found later (disk full, a
fork, a full queue) become one warning each, emitted here on the caller's
thread. In ``disabled`` mode, and in a forked child, every call is a no-op
(no ``if run:`` guards needed in training code). Once finished, a call that
would record something raises RunFinishedError; finish() again is a no-op,
and stats() and the properties still answer.

The machinery (run directory, writer thread, helpers, the syncer process) is
in backend.py. Beside the Run, each in a module named for it: its other calls
(define_metric, save, alert, artifacts, watch; calls.py) and wandb's
attributes (info.py), both mixins; its rich values (rich.py); the
order finish() stops things in and where its problems go (finish.py).
The Run knows nothing of the facade: init() passes ``on_finish``, which
finish() calls once. The process hooks (exithooks.py) end runs through two public
methods, ``finish_at_exit`` and ``detach_after_fork``.

Why this stays one module of ~350 lines: it is one concept, the state the
user's calls share. Step semantics, the disabled/forked/finished rules and
finish()'s first steps act on the same few fields under one lock, and log()
is the hot path, so it reads them directly rather than through another object.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from logwriter.errors import ForkedRunWarning, RunFinishedError, StepWarning
from logwriter.media.logged import split_media
from logwriter.session import exithooks
from logwriter.session.backend import Backend
from logwriter.session.calls import RunCalls
from logwriter.session.finish import stop as stop_run
from logwriter.session.info import RunInfo
from logwriter.session.resume import ResumeState
from logwriter.session.rich import RunMedia
from logwriter.session.settings import Settings
from logwriter.values.config import Config
from logwriter.values.convert import STEP_LIMIT, check_step, flatten
from logwriter.values.summary import Summary
from logwriter.wal.writer import Writer
from schema.layout import FILES_DIR
from schema.records import EXIT_STATUSES, RecordType

if TYPE_CHECKING:
    from logwriter.media.worker import MediaWorker
    from logwriter.session.syncproc import SyncProcess

_HISTORY = int(RecordType.HISTORY)
CLOSE_TIMEOUT = 30.0  # finish() waits this long for the writer thread to stop


class Run(RunCalls, RunInfo):
    """One run: a directory, a writer thread, and wandb-like methods (define_metric,
    save, alert, artifacts and watch are in calls.py; wandb's run attributes,
    ``dir`` and ``run_dir`` among them, in info.py)."""

    def __init__(self, settings: Settings, config: Any = None, *,
                 on_finish: Callable[[Run], None] | None = None) -> None:
        self.settings = settings
        self.id = settings.run_id
        self.name = settings.name
        self.project = settings.project
        self.mode = settings.mode
        self.run_dir = os.path.abspath(settings.run_dir)  # run.json, log/, files/, sync/
        self.dir = os.path.join(self.run_dir, FILES_DIR)  # wandb's run.dir: the files
        self.resumed = False
        self.config = Config(self._emit_config)
        self.summary = Summary(self._emit_summary, self._summary_media)
        self._on_finish = on_finish
        self._lock = threading.RLock()
        self._step = 0
        self._row: dict[str, Any] = {}
        self._row_bytes = 0  # the pending row's size estimate, for the queue's memory bound
        self._rich = RunMedia(self.dir, self.id)  # rich values: rich.py
        self._step_warned = False
        self._finished = False
        self._inert = settings.mode == "disabled"
        self._fork_warned = False
        self._forked = False
        self._t0 = time.monotonic()
        self._backend = Backend(settings, self.run_dir)
        self._writer: Writer | None = None  # the backend's, kept at hand for log()
        if self._inert:
            self.config.update(config)
            return
        self._open(config)

    # -- start -------------------------------------------------------------

    def _open(self, config: Any) -> None:
        backend = self._backend
        self.resumed, state = backend.open()  # the writer is started, RUN/RESUME queued
        self._writer = backend.writer
        if self.resumed:
            self._restore(state)
        exithooks.register(self)
        try:
            if config is not None:
                self.config.update(config)
            backend.start_hybrid()
        except BaseException:
            self._finish(1, "failed", quiet=True)
            raise
        backend.start_watchers(self._emit_stats)

    def _restore(self, state: ResumeState) -> None:
        self._step = state.step
        self.config.restore(state.config)
        for d in state.metric_defs:
            if isinstance(d.get("name"), str):
                self.summary.define(d["name"], d.get("summary"))
        self.summary.restore(state.last)

    @property
    def syncer_pid(self) -> int | None:
        """Pid of the `runwal follow` process of an online/hybrid run (None otherwise)."""
        return self._backend.syncer_pid

    @property
    def _follower(self) -> SyncProcess | None:  # tests look at the follower process
        return self._backend.follower

    @property
    def _media(self) -> MediaWorker | None:  # and at the media worker
        return self._rich.worker

    # -- emitting ----------------------------------------------------------

    # -- the seams the SDK's other parts call (artifacts, watch, integrations) ---

    @property
    def finished(self) -> bool:
        """True once finish() has begun, whoever called it (a ``with`` block, the exit
        hooks, an integration)."""
        return self._finished

    @property
    def live(self) -> bool:
        """True while calls record something: not disabled, not a forked child's copy,
        not finished. A check that never raises and never warns, for hooks (watch's
        torch hooks) that must stay silent."""
        return not (self._inert or self._finished)

    def ignores_calls(self) -> bool:
        """True when a call must do nothing: ``disabled`` mode, or a forked child
        (which warns once, ForkedRunWarning). Raises RunFinishedError once finished.
        Every recording call asks this first, on the caller's thread."""
        if self._inert:
            if self._forked and not self._fork_warned:
                self._warn_forked()
            return True
        if self._finished:
            raise RunFinishedError(f"runwal: run {self.id} is finished")
        return False

    def record(self, rtype: int, body: Any) -> None:
        """Queue one record of type ``rtype`` (schema.records.RecordType) with its
        timestamp taken now: how artifacts and watch() add records beside log()'s. The
        body must already be what the record type holds (checked by its caller)."""
        if self.ignores_calls():
            return
        assert self._writer is not None
        self._writer.put(rtype, time.time(), body)
        if self._writer.notices:
            self._warn_notices()

    def _emit_config(self, delta: dict[str, Any]) -> None:
        self.record(int(RecordType.CONFIG), delta)

    def _emit_summary(self, delta: dict[str, Any]) -> None:
        self.record(int(RecordType.SUMMARY), delta)

    def _summary_media(self, values: dict[str, Any]) -> dict[str, Any]:
        """summary[key] = a rich value: its MEDIA record at the current step, stored now
        (rich.py); the references the summary keeps."""
        if self.ignores_calls():
            return {}
        with self._lock:
            bodies, refs = self._rich.summary(values, self._step)
        self._rich.queue(self._writer, bodies)  # type: ignore[arg-type]
        return refs

    def _emit_stats(self, sample: dict[str, float]) -> None:
        writer = self._writer
        if writer is not None and not self._finished and not self._inert:
            writer.put(int(RecordType.STATS), time.time(), sample, block=False)

    def _warn_notices(self) -> None:
        assert self._writer is not None
        notices, self._writer.notices = self._writer.notices, []
        for category, message in notices:
            warnings.warn(message, category, stacklevel=4)

    def detach_after_fork(self) -> None:
        """In a forked child (called by hooks' at-fork handler): drop the parent's writer
        and follower. The child never writes through the parent's fd; calls become
        no-ops with one ForkedRunWarning."""
        self._inert = True
        self._forked = True
        self._backend.detach_after_fork()
        self._rich.detach()

    def _warn_forked(self) -> None:
        if not self._fork_warned:
            self._fork_warned = True
            warnings.warn(
                f"runwal: this process was forked from the one that owns run {self.id}; "
                "calls on the inherited run are ignored. Call logwriter.init() in the child "
                "to log from it",
                ForkedRunWarning,
                stacklevel=4,
            )

    # -- user API ----------------------------------------------------------

    @property
    def step(self) -> int:
        return self._step

    def log(self, data: dict[str, Any] | None = None, step: int | None = None,
            commit: bool | None = None, sync: bool | None = None) -> None:
        """Log one row of metrics; see the module docs of logwriter for step semantics.
        ``sync`` is wandb's (deprecated there), accepted and ignored. ``log()`` with no
        data commits the current step (older wandb's spelling, in its own examples)."""
        if (self._inert or self._finished) and self.ignores_calls():
            return
        if data is None:
            data = {}
        try:
            flat, size = flatten(data)
            media = None
        except TypeError:  # perhaps rich values (media/logged.py); else the same error again
            flat, size, media = split_media(data)
        if step is not None and (type(step) is not int or not 0 <= step < STEP_LIMIT):
            step = check_step(step)
        with self._lock:
            if step is not None and step != self._step:
                if step < self._step:
                    self._ignore_old_step(step)
                    return
                if self._row:
                    self._commit_row()
                self._step = step
            elif self._step >= STEP_LIMIT:
                raise ValueError(f"runwal: log(): the step counter reached 2**63 after "
                                 f"step {self._step - 1}; steps must stay below 2**63")
            if media:  # a MEDIA record per key, queued by the media worker (rich.py)
                self._rich.log(self._writer, self._step, media)  # type: ignore[arg-type]
            if self._row:
                self._row.update(flat)
            else:
                self._row = flat
            self._row_bytes += size + 64 * len(flat)
            if commit is False or (commit is None and step is not None):
                return
            self._commit_row()
        if self._writer.notices:  # type: ignore[union-attr]
            self._warn_notices()

    def _commit_row(self) -> None:
        row, self._row = self._row, {}
        if row:
            self._writer.put(_HISTORY, time.time(),  # type: ignore[union-attr]
                             {"step": self._step, "data": row}, self._row_bytes)
            self._row_bytes = 0
            self.summary.observe(row)
        self._step += 1

    def _ignore_old_step(self, step: int) -> None:
        if not self._step_warned:
            self._step_warned = True
            warnings.warn(
                f"runwal: log(step={step}) is lower than the current step {self._step}; "
                "the data was ignored (steps must not go backwards; log an x-axis metric "
                "with define_metric(step_metric=...) instead)",
                StepWarning,
                stacklevel=4,
            )

    def stats(self) -> dict[str, Any]:
        """Writer counters: written, dropped, write_errors, last_error, queued, ..."""
        out: dict[str, Any] = self._writer.stats() if self._writer is not None else {}
        out["step"] = self._step
        saver = self._backend.saver
        out["save_errors"] = saver.errors if saver is not None else 0
        out["media_dropped"] = self._rich.dropped
        out["media_queued"] = self._rich.queued
        return out

    @property
    def dropped(self) -> int:
        return self._writer.dropped if self._writer is not None else 0

    def finish(self, exit_code: int = 0, quiet: bool | None = None) -> None:
        """Drain, write the final SUMMARY and EXIT, fsync, close. Idempotent.

        The status is ``finished`` for exit code 0, ``failed`` otherwise. A
        writer that does not stop within CLOSE_TIMEOUT (a stuck disk) is left
        behind with a FinishTimeoutWarning. Online/hybrid: then wait up to
        ``sync_timeout`` seconds (init's; 60 s online, 5 s hybrid) for the
        syncer to deliver the run, with progress on stderr; past that, warn
        (SyncWarning) and leave it running in the background. Never raises on
        account of the server or the disk. ``quiet`` is wandb's, accepted and ignored.
        """
        self._finish(exit_code, None, quiet=False)

    def finish_at_exit(self, exit_code: int, status: str, *,
                       sync_wait: float | None = None) -> None:
        """Finish because the process is ending: how exithooks.py ends a run at exit, after
        an uncaught exception and on SIGTERM.

        Like finish(), with the EXIT record's ``status`` given (one of
        schema.records.EXIT_STATUSES: ``preempted``, ``killed``, ...), the wait
        for the syncer bounded by ``sync_wait`` seconds instead of the
        settings' ``sync_timeout``, and problems written to stderr instead of
        warned: the code that would have seen a warning is gone.
        """
        if status not in EXIT_STATUSES:
            raise ValueError(f"runwal: finish_at_exit(status={status!r}): expected one of "
                             f"{EXIT_STATUSES}")
        self._finish(exit_code, status, quiet=True, sync_wait=sync_wait)

    def _finish(self, exit_code: int, status: str | None, *, quiet: bool,
                sync_wait: float | None = None) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        exithooks.unregister(self)
        from logwriter.integrations.torchwatch import (
            release,  # no torch import: watch(model) hooks off
        )
        release(self)
        if self._on_finish is not None:
            self._on_finish(self)
        writer = self._writer
        if self._inert or writer is None:
            return
        with self._lock:
            if self._row:
                self._commit_row()
        stop_run(self._backend, writer, self._rich, self.summary, code=exit_code,
                        status=lambda: self._exit_status(status, exit_code), t0=self._t0,
                        timeout=CLOSE_TIMEOUT, quiet=quiet, sync_wait=sync_wait)
        if writer.notices and not quiet:
            self._warn_notices()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self._finish(0, None, quiet=False)
        elif issubclass(exc_type, KeyboardInterrupt):
            self._finish(130, "killed", quiet=False)
        else:
            self._finish(1, "failed", quiet=False)

    def __repr__(self) -> str:
        return f"<Run {self.id} project={self.project!r} mode={self.mode} run_dir={self.run_dir!r}>"

