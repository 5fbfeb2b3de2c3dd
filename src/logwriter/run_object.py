"""The user's Run: log/config/summary/save/alert/finish on top of one Writer.

(The module is not called ``run.py`` because ``logwriter.run`` is the facade's
"current run" attribute, like ``wandb.run``; a submodule of the same name
would shadow it.)

A Run is cheap to call and hard to break: every method validates on the
caller's thread and then only queues; problems found later (disk full, a
fork, a full queue) become one warning each, emitted here on the caller's
thread. In ``disabled`` mode, after a fork, or once finished, the Run keeps
answering (no-ops) so training code needs no ``if run:`` guards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from logwriter import hooks
from logwriter.config_summary import SUMMARY_MODES, Config, Summary
from logwriter.errors import ForkedRunWarning, RunFinishedError, StepWarning, SyncWarning
from logwriter.helpers import ConsoleBuffer, run_metadata, start_console, start_monitor
from logwriter.resume import ResumeState, create_run_dir, plan_run_dir
from logwriter.savefiles import LIVE_CHECK_S, FileSaver
from logwriter.settings import Settings
from logwriter.values import flatten
from logwriter.writer import Writer
from schema.records import EXIT_STATUSES, RecordType

if TYPE_CHECKING:
    from logwriter.follower import Follower

_HISTORY = int(RecordType.HISTORY)
FOLLOWER_CHECK_S = 2.0
ALERT_LEVELS = ("INFO", "WARN", "ERROR")


class Run:
    """One run: a directory, a writer thread, and wandb-like methods."""

    def __init__(self, settings: Settings, config: Any = None) -> None:
        self.settings = settings
        self.id = settings.run_id
        self.name = settings.name
        self.project = settings.project
        self.mode = settings.mode
        self.dir = os.path.abspath(settings.run_dir)
        self.resumed = False
        self.config = Config(self._emit_config)
        self.summary = Summary(self._emit_summary)
        self._lock = threading.RLock()
        self._step = 0
        self._row: dict[str, Any] = {}
        self._step_warned = False
        self._finished = False
        self._inert = settings.mode == "disabled"
        self._fork_warned = False
        self._forked = False
        self._pid = os.getpid()
        self._t0 = time.monotonic()
        self._writer: Writer | None = None
        self._saver: FileSaver | None = None
        self._monitor: Any = None
        self._console: Any = None
        self._console_buf: ConsoleBuffer | None = None
        self._follower: Follower | None = None
        self._follower_gone = False
        if self._inert:
            self.config.update(config)
            return
        self._open(config)

    # -- start -------------------------------------------------------------

    def _open(self, config: Any) -> None:
        s = self.settings
        root = Path(self.dir)
        self.resumed, state = plan_run_dir(root, s)
        if s.mode == "online":  # before anything is written: a refusal leaves no run behind
            from logwriter.follower import start_online  # subprocess & co: syncing modes only

            self._follower = start_online(self.dir, s, state.next_seq)
        try:
            create_run_dir(root, s)
            self._writer = writer = Writer(
                root / "log", state.next_seq, flush_interval=s.flush_interval, fsync=s.fsync,
                name=f"runwal-writer-{self.id}",
            )
        except BaseException:
            self._stop_follower()
            raise
        now = time.time()
        if self.resumed:
            self._restore(state)
            writer.put(int(RecordType.RESUME), now,
                       {"pid": os.getpid(), "host": os.uname().nodename,
                        "step": self._step, "base_seq": state.next_seq})
        else:
            settings_dict = s.as_dict()
            writer.put(int(RecordType.RUN), now, lambda: run_metadata(settings_dict))
        self._saver = FileSaver(root, writer.put)
        writer.add_periodic(self._saver.tick, LIVE_CHECK_S)
        hooks.register(self)
        try:
            if config is not None:
                self.config.update(config)
            if s.mode == "hybrid":
                from logwriter.follower import start_hybrid

                self._follower = start_hybrid(self.dir, s, state.next_seq)
        except BaseException:
            self.finish(exit_code=1, quiet=True)
            raise
        if self._follower is not None:
            writer.add_periodic(self._check_follower, FOLLOWER_CHECK_S)
        if s.capture_console:
            self._console_buf = ConsoleBuffer(writer.put)
            writer.add_periodic(self._console_buf.drain_nowait, s.flush_interval)
            self._console = start_console(self._console_buf.add)
        if s.stats_interval > 0:
            self._monitor = start_monitor(self._emit_stats, s.stats_interval, self.dir)

    def _restore(self, state: ResumeState) -> None:
        self._step = state.step
        self.config.restore(state.config)
        for d in state.metric_defs:
            if isinstance(d.get("name"), str):
                self.summary.define(d["name"], d.get("summary"))
        self.summary.restore(state.last)

    # -- the syncer (online/hybrid) -------------------------------------------

    def _check_follower(self) -> None:
        """Writer thread, every few seconds: a syncer that ended before the run did is
        reported once, as a warning at the next call (the run goes on locally)."""
        follower = self._follower
        if follower is None or self._finished or follower.owner != os.getpid():
            return
        if follower.proc.poll() is None or self._follower_gone:
            return
        self._follower_gone = True
        why = follower.last_words() or f"status {follower.proc.returncode}"
        self._writer.notices.append((SyncWarning, (  # type: ignore[union-attr]
            f"runwal: the syncer of run {self.id} stopped ({why}); the run goes on logging "
            f"locally and {follower.sync_hint()}"
        )))

    def _stop_follower(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()

    def _finish_sync(self, quiet: bool, sync_timeout: float | None) -> None:
        """finish(): wait (bounded, with progress) for the follower to deliver the EXIT."""
        follower = self._follower
        if follower is None or follower.owner != os.getpid() or self._writer is None:
            return
        timeout = self.settings.sync_timeout if sync_timeout is None else sync_timeout
        last_seq = int(self._writer.stats()["next_seq"]) - 1
        problem = follower.finish(timeout, last_seq, self.id, _say)
        if problem is None:
            return
        if quiet:
            _say(problem)
        else:
            warnings.warn(problem, SyncWarning, stacklevel=3)

    @property
    def syncer_pid(self) -> int | None:
        """Pid of the `runwal follow` process of an online/hybrid run (None otherwise)."""
        return self._follower.pid if self._follower is not None else None

    # -- emitting ----------------------------------------------------------

    def _put(self, rtype: int, body: Any) -> None:
        if self._inert_call():
            return
        assert self._writer is not None
        self._writer.put(rtype, time.time(), body)
        if self._writer.notices:
            self._warn_notices()

    def _emit_config(self, delta: dict[str, Any]) -> None:
        self._put(int(RecordType.CONFIG), delta)

    def _emit_summary(self, delta: dict[str, Any]) -> None:
        self._put(int(RecordType.SUMMARY), delta)

    def _emit_stats(self, sample: dict[str, float]) -> None:
        writer = self._writer
        if writer is not None and not self._finished and not self._inert:
            writer.put(int(RecordType.STATS), time.time(), sample, block=False)

    def _inert_call(self) -> bool:
        """True when calls must do nothing (disabled, forked child, finished)."""
        if self._inert:
            if self._forked and not self._fork_warned:
                self._warn_forked()
            return True
        if self._finished:
            raise RunFinishedError(f"runwal: run {self.id} is finished")
        return False

    def _warn_notices(self) -> None:
        assert self._writer is not None
        notices, self._writer.notices = self._writer.notices, []
        for category, message in notices:
            warnings.warn(message, category, stacklevel=4)

    def _detach_after_fork(self) -> None:
        """In a forked child (hooks' at-fork handler): drop the parent's writer.

        The child never writes through the parent's fd; its helper threads did
        not survive the fork. Calls become no-ops with one warning.
        """
        self._inert = True
        self._forked = True
        self._pid = os.getpid()
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.forget()
        for helper in (self._writer, self._console):
            if helper is not None and hasattr(helper, "detach"):
                helper.detach()
        self._monitor = self._console = None

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

    def log(self, data: dict[str, Any], step: int | None = None,
            commit: bool | None = None) -> None:
        """Log one row of metrics; see the module docs of logwriter for step semantics."""
        if (self._inert or self._finished) and self._inert_call():
            return
        flat, _ = flatten(data)
        if step is not None and type(step) is not int:
            step = _as_step(step)
        with self._lock:
            if step is not None and step != self._step:
                if step < self._step:
                    self._ignore_old_step(step)
                    return
                if self._row:
                    self._commit_row()
                self._step = step
            if self._row:
                self._row.update(flat)
            else:
                self._row = flat
            if commit is False or (commit is None and step is not None):
                return
            self._commit_row()
        if self._writer.notices:  # type: ignore[union-attr]
            self._warn_notices()

    def _commit_row(self) -> None:
        row, self._row = self._row, {}
        if row:
            self._writer.put(_HISTORY, time.time(),  # type: ignore[union-attr]
                             {"step": self._step, "data": row})
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

    def define_metric(self, name: str, step_metric: str | None = None,
                      summary: str | None = None, hidden: bool = False) -> None:
        """Declare how a metric (or a glob like "val/*") is summarised and plotted."""
        if not isinstance(name, str) or not name:
            raise TypeError("runwal: define_metric(): name must be a non-empty str")
        if summary is not None and summary not in SUMMARY_MODES:
            raise ValueError(f"runwal: define_metric(summary={summary!r}): expected one of "
                             f"{', '.join(SUMMARY_MODES)}")
        if step_metric is not None and not isinstance(step_metric, str):
            raise TypeError("runwal: define_metric(): step_metric must be a str")
        self.summary.define(name, summary)
        self._put(int(RecordType.METRIC_DEF), {"name": name, "step_metric": step_metric,
                                               "summary": summary, "hidden": bool(hidden)})

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] |
             None = None, policy: str = "now") -> list[str]:
        """Snapshot files into the run's files/ dir; returns their paths there."""
        if self._inert_call():
            return []
        assert self._saver is not None
        return self._saver.save(glob_str, base_path, policy)

    def alert(self, title: str, text: str, level: str = "INFO") -> None:
        if not isinstance(title, str) or not isinstance(text, str):
            raise TypeError("runwal: alert(): title and text must be str")
        level = str(level).upper()
        if level not in ALERT_LEVELS:
            raise ValueError(f"runwal: alert(level={level!r}): expected one of {ALERT_LEVELS}")
        self._put(int(RecordType.ALERT), {"title": title, "text": text, "level": level})

    def stats(self) -> dict[str, Any]:
        """Writer counters: written, dropped, write_errors, last_error, queued, ..."""
        out: dict[str, Any] = self._writer.stats() if self._writer is not None else {}
        out["step"] = self._step
        return out

    @property
    def dropped(self) -> int:
        return self._writer.dropped if self._writer is not None else 0

    def finish(self, exit_code: int = 0, *, status: str | None = None,
               quiet: bool = False, timeout: float = 30.0,
               sync_timeout: float | None = None) -> None:
        """Drain, write the final SUMMARY and EXIT, fsync, close. Idempotent.

        Online/hybrid: then wait up to ``sync_timeout`` seconds (default: the
        settings', 60 s online, 5 s hybrid) for the syncer to deliver the run,
        with progress on stderr; past that, warn (SyncWarning) and leave it
        running in the background. Never raises on account of the server.
        """
        with self._lock:
            if self._finished:
                return
            self._finished = True
        hooks.unregister(self)
        _forget(self)
        if self._inert or self._writer is None:
            return
        status = status or ("finished" if exit_code == 0 else "failed")
        if status not in EXIT_STATUSES:
            raise ValueError(f"runwal: finish(status={status!r}): expected one of "
                             f"{EXIT_STATUSES}")
        writer = self._writer
        with self._lock:
            if self._row:
                self._commit_row()
        for helper in (self._monitor, self._console):
            if helper is not None:
                with contextlib.suppress(Exception):  # finishing must go on
                    helper.stop()
        if self._console_buf is not None:
            self._console_buf.drain()
        if self._saver is not None:
            try:
                self._saver.finish()
            except OSError as exc:
                writer.last_error = f"save at finish failed: {exc}"
        now = time.time()
        delta = self.summary.delta()
        if delta:
            writer.put(int(RecordType.SUMMARY), now, delta)
        writer.put(int(RecordType.EXIT), now, {
            "code": int(exit_code), "status": status,
            "runtime": round(time.monotonic() - self._t0, 6),
        })
        writer.close(timeout)
        self._finish_sync(quiet, sync_timeout)
        if writer.notices and not quiet:
            self._warn_notices()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish(exit_code=130, status="killed")
        else:
            self.finish(exit_code=1, status="failed")

    def __repr__(self) -> str:
        return f"<Run {self.id} project={self.project!r} mode={self.mode} dir={self.dir!r}>"


def _as_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise TypeError(f"runwal: log(step=...) must be an int, got {type(step).__name__}")
    value = int(step.__index__())
    if value < 0:
        raise ValueError(f"runwal: log(step={value}) must be >= 0")
    return value


def _say(line: str) -> None:
    """Progress and problems of the syncer at finish(), on the real stderr."""
    stream = sys.stderr or sys.__stderr__
    if stream is not None:
        with contextlib.suppress(Exception):
            stream.write(line + "\n")
            stream.flush()


def _forget(run: Run) -> None:
    """Clear the facade's current run if it is this one."""
    import logwriter

    if getattr(logwriter, "run", None) is run:
        logwriter.run = None
