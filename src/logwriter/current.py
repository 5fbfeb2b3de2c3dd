"""The current run and the module-level calls on it: ``logwriter.init``, ``log``, ...

The facade (``logwriter/__init__.py``) only re-exports these; this module owns
the state. The semantics every call shares (what the README's Quick start
and Crash safety sections say to users):

Usage, as with wandb::

    import logwriter
    run = logwriter.init(project="mnist", config={"lr": 1e-3})
    for step in range(1000):
        logwriter.log({"loss": loss, "acc": acc})
    logwriter.finish()

Step semantics (wandb's): each ``log()`` commits one row at the current step
and advances it. ``commit=False`` adds to the pending row without advancing.
With an explicit ``step=``, rows at that step accumulate until a call with a
higher step (or finish()) commits them; a step lower than the current one is
ignored with one StepWarning. Steps are ints in [0, 2**63) (MLflow's int64).

Values: int, float (NaN/inf too), bool, str, None, lists/dicts of those;
numpy/torch scalars are converted. Nested dicts are flattened with "/", and a
key named twice that way (``{"a/b": 1, "a": {"b": 2}}``) is a ValueError. Keys
must be valid text (a lone surrogate, from undecodable bytes, is a
ValueError naming the key); str values, argv, console text and saved file
names are stored as valid UTF-8 with undecodable bytes escaped (``\\xe9``).
Every such error is raised in the calling thread before anything of the
call is queued: the run goes on.

Rich values (Image, Table, Histogram, Audio, Video, Html, plot.*; media/)
are stored under files/media/ and named by a ``media`` record at the row's
step; a numpy array or tensor of more than 32 elements becomes a Histogram.

One process writes a run. A second process that init()s a run another live
process is writing (the same ``id=`` with ``resume=``: DDP ranks, spawned
workers) gets a RunDirError at init() naming that process; give each process
its own run, ``init(id=f"{base}-rank{rank}", group=base)``. A forked child
inherits the parent's run but its calls are ignored (one ForkedRunWarning);
it may init() a run of its own. Threads of one process share its run freely.

What a crash costs: ``kill -9`` (or the OOM killer) loses at most about one
``flush_interval`` (0.1 s) of what log() acknowledged, whatever the logging
rate: when the writer falls behind, log() waits for it instead of queueing
further ahead. Two exceptions: while the disk refuses writes, records are
kept in memory (bounded, below) for a retry; and the very first records wait
for the RUN record's metadata (git) with the writer. A power cut loses what
was not fsync'd yet: fsync="commit" fsyncs at most once per interval, on its
own thread, so about one to three flush intervals (docs/RELIABILITY.md).
Memory: the queue holds at most 64 MiB (its estimate: the strings and lists
logged plus ~64 bytes a value) and 100k records, the retry
buffer of a failing disk 64 MiB of frames, console capture 8 MiB of text.
Every record dropped past those bounds (a stuck or full disk, the run
directory deleted under the run) is counted in ``run.stats()['dropped']`` and
warned once (DroppedRecordsWarning); ``save()`` on a full disk warns
(SaveWarning) and goes on; finish() always writes the EXIT record when the
disk takes it.

Modes (``init(mode=)`` or RUNWAL_MODE; the default is ``hybrid`` when a server
is configured for runwal, by ``init(server=)`` or RUNWAL_SERVER, and
``offline`` otherwise): ``offline`` writes the run directory only;
``disabled`` makes every call a no-op and writes nothing.
``online`` checks the tracking server at init (``init(server=)``, else
RUNWAL_SERVER, else MLFLOW_TRACKING_URI) and fails fast, leaving nothing
behind, if it does not answer; a `runwal follow` process then tails the run
to the server and finish() waits for it (bounded, ``sync_timeout``).
``hybrid`` starts the same process but never fails or waits on the server:
the run logs locally and the syncer catches up when it can. Training never
makes an HTTP request in any mode.

The module-level functions act on the current run, ``run`` here (the facade's
``logwriter.run`` reads it). This module owns it: init() sets it, and hands
the Run an ``on_finish`` callback that clears it when that run finishes,
however it finishes (finish(), a ``with`` block, the atexit/SIGTERM hooks).
Without a current run they raise RunFinishedError, except finish(), which is
then a no-op.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from logwriter.errors import RunFinishedError
from logwriter.session.run import Run
from logwriter.session.settings import InitArgs, resolve
from logwriter.session.wandb_args import REINIT_RETURN_PREVIOUS
from logwriter.values.config import initial as initial_config

if TYPE_CHECKING:
    from logwriter.artifacts.artifact import Artifact


run: Run | None = None


def init(
    project: str | None = None,
    name: str | None = None,
    id: str | None = None,  # wandb's argument name
    config: Any = None,
    tags: Any = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    resume: bool | str | None = None,
    flush_interval: float | None = None,
    fsync: str | None = None,
    stats_interval: float | None = None,
    capture_console: bool = True,
    server: str | None = None,
    sync_timeout: float | None = None,
    shared: bool | None = None,
    label: str | None = None,
    primary: bool | None = None,
    # wandb's other arguments: logwriter/session/wandb_args.py says what each does here
    entity: str | None = None,
    reinit: bool | str | None = None,
    anonymous: str | None = None,
    settings: Any = None,
    save_code: bool | None = None,
    allow_val_change: bool | None = None,
    config_exclude_keys: Any = None,
    config_include_keys: Any = None,
    force: bool | None = None,
    monitor_gym: bool | None = None,
    magic: Any = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
) -> Run:
    """Start (or resume) a run and make it the current one.

    A run that is still current is finished first (wandb's default since 0.19;
    ``reinit="return_previous"`` returns it instead). Raises ValueError for bad
    arguments (NoServerError: online/hybrid without an http(s) tracking server),
    TypeError/ValueError for a config value the run cannot store, RunDirError
    when the run directory cannot be created or resumed, SyncStartError when
    online mode cannot reach the server (nothing is created in any of these
    cases).
    """
    global run
    # First statement, so locals() is exactly the parameters: settings.InitArgs
    # is their one list, and a test pins this signature to it.
    args = InitArgs(**locals())
    if run is not None and args.reinit == REINIT_RETURN_PREVIOUS:
        return run
    resolved = resolve(args)
    first = initial_config(args.config, args.config_include_keys, args.config_exclude_keys)
    if resolved.recorded:
        first = {**(first or {}), **(initial_config(resolved.recorded) or {})}
    if run is not None:
        run.finish()
    new = Run(resolved, first, on_finish=_forget)
    run = new
    if resolved.save_code:
        new.log_code_main()
    # resolved.sync_tensorboard: the TensorBoard reader starts with the run (backend.py,
    # start_watchers -> logwriter/tensorboard/live.py) and stops at its finish.
    return new


def _forget(finished: Run) -> None:
    """Run.finish()'s callback: the current run is no longer ``finished``."""
    global run
    if run is finished:
        run = None


def _current(what: str) -> Run:
    if run is None:
        raise RunFinishedError(f"runwal: {what} needs a run; call logwriter.init() first")
    return run


def log(data: dict[str, Any] | None = None, step: int | None = None,
        commit: bool | None = None, sync: bool | None = None) -> None:
    """Log metrics to the current run; see Run.log (``sync`` is wandb's, ignored)."""
    _current("log()").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run (a no-op when there is none); wandb's ``quiet`` is ignored."""
    if run is not None:
        run.finish(0 if exit_code is None else exit_code)


def save(glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
         policy: str = "now") -> list[str]:
    """Save files into the current run; see Run.save."""
    return _current("save()").save(glob_str, base_path=base_path, policy=policy)


def define_metric(name: str, step_metric: str | None = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None,
                  goal: str | None = None, overwrite: bool | None = None) -> None:
    """Define a metric's summary/step axis on the current run; see Run.define_metric."""
    _current("define_metric()").define_metric(name, step_metric, step_sync, hidden, summary,
                                               goal, overwrite)


def alert(title: str, text: str, level: str = "INFO") -> None:
    """Record an alert on the current run."""
    _current("alert()").alert(title, text, level=level)


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,
                 aliases: Any = None) -> Artifact:
    """Log an Artifact (or a file/dir path) to the current run; see Run.log_artifact."""
    art: Artifact = _current("log_artifact()").log_artifact(artifact_or_path, name=name,
                                                             type=type, aliases=aliases)
    return art


def log_model(path: str | os.PathLike[str], name: str | None = None,
              aliases: Any = None) -> Artifact:
    """Log a model file or directory as an artifact of type "model"."""
    art: Artifact = _current("log_model()").log_model(path, name=name, aliases=aliases)
    return art


def use_artifact(artifact_or_name: Any, type: str | None = None) -> Artifact:
    """Resolve an artifact offline and record that the current run used it."""
    art: Artifact = _current("use_artifact()").use_artifact(artifact_or_name, type=type)
    return art


def watch(models: Any, criterion: Any = None, log: str | None = "gradients",
          log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
    """Histograms and norms of a torch model's gradients/parameters (integrations/torchwatch.py)."""
    _current("watch()").watch(models, criterion=criterion, log=log, log_freq=log_freq,
                              idx=idx, log_graph=log_graph)


def unwatch(models: Any = None) -> None:
    """Remove watch() hooks (of every watched model without an argument); no run needed."""
    from logwriter.integrations.torchwatch import unwatch as _unwatch

    for model in models if isinstance(models, (list, tuple)) else [models]:
        _unwatch(run, model)


class _Proxy:
    """Forwards to ``logwriter.run.<attr>`` so ``logwriter.config.lr = 1`` works."""

    def __init__(self, attr: str) -> None:
        object.__setattr__(self, "_attr", attr)

    def _target(self) -> Any:
        return getattr(_current(f"logwriter.{self._attr}"), self._attr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def __iter__(self) -> Any:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __repr__(self) -> str:
        return repr(self._target()) if run is not None else f"<logwriter.{self._attr}: no run>"


config: Any = _Proxy("config")
summary: Any = _Proxy("summary")
