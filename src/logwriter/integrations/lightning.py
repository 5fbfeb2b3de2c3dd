"""``RunwalLogger``: a Lightning logger that writes a runwal run.

Usage::

    from logwriter.integrations.lightning import RunwalLogger
    trainer = Trainer(logger=RunwalLogger(project="mnist", log_model=True))

Like Lightning's own loggers, the run is created lazily, on first use of
``experiment``, and only on global rank 0: under DDP the other ranks get
Lightning's DummyExperiment and every logging method is a no-op there
(``rank_zero_only``), so one process writes the run.

Shared runs: ``RunwalLogger(shared=True)`` (or ``RUNWAL_SHARED=1`` in the
environment, when ``shared`` is not given) makes every rank a writer of one
run (``logwriter.init(shared=True)``, session/shared.py): rank 0 writes the
run's own ``log/``, every other rank its stream ``streams/rank_<N>/``. The
run is then created on every rank (Lightning's setup hook touches
``experiment`` on all of them), not only on rank 0. Hyper-parameters, metrics
and checkpoints are still logged by rank 0 alone, as Lightning does (its
metrics are reduced across ranks already); the other ranks contribute their
own system metrics and console, and each rank finishes its stream at
``finalize``. The stream's label is ``rank_<global rank>``, rank 0 the primary
(``label=``/``primary=`` override them).

Every rank must open the same run id. It is, in this order: ``id=``; the
launcher's job id (``torchrun --rdzv-id``'s TORCHELASTIC_RUN_ID, Slurm's job
id); else one that rank 0 draws and sends to the others with
``torch.distributed.broadcast_object_list`` on the first use of
``experiment`` after the process group is up. That first use is Lightning's
setup hook, which every rank reaches together, so the broadcast is a
collective all ranks make (a run rank 0 made before ``fit``, e.g. by
``logger.experiment.config.update(...)`` in the script, keeps its id: rank 0
sends it). An environment variable set before the job starts cannot carry it:
torchrun starts each rank itself. A rank other than 0 cannot learn the id
before the process group exists, so using its ``experiment`` before ``fit``
with no id to go by raises ValueError (pass ``id=`` or ``torchrun --rdzv-id``).

``log_model`` follows WandbLogger: ``True`` saves the best and last
checkpoints into the run's files when training ends successfully (every
checkpoint as it is written when ``save_top_k == -1``), ``"all"`` saves every
checkpoint as it is written. Checkpoints saved during training use the
``live`` policy (copied, and copied again if Lightning rewrites the file in
place, as it does ``last.ckpt``): a hard link would follow those rewrites.

``save_dir`` is the runs root (init's ``dir``), not the run directory:
ModelCheckpoint puts its files under ``save_dir/name/version``, and a file
inside the run directory cannot be saved into it. ``log_dir`` is the run
directory.

``finalize`` finishes the run: ``"success"`` as finished, ``"failed"`` (an
exception in fit) as failed with exit code 1, ``"finished"`` (Lightning's
SLURM requeue signal) as preempted. A later fit/test with the same logger
resumes the same run.
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any, Literal

try:
    from lightning.fabric.utilities.logger import (
        _add_prefix,
        _convert_params,
        _flatten_dict,
        _sanitize_callable_params,
    )
    from lightning.pytorch.callbacks import Checkpoint
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.utilities.rank_zero import rank_zero_only
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("runwal: logwriter.integrations.lightning needs Lightning; "
                      "pip install 'runwal[lightning]'") from exc

import logwriter
from logwriter.integrations.distributed import (
    broadcast_from_rank_zero,
    process_group_size,
    wants_shared,
)
from logwriter.session.run import Run
from logwriter.session.settings import new_run_id
from logwriter.session.shared import job_run_id

_PLAIN = (bool, int, float, str, type(None))


class RunwalLogger(Logger):
    """Log a Lightning Trainer's hyper-parameters, metrics and checkpoints to runwal.

    Args:
        project, name, id, dir, config, mode, tags, group, notes, job_type:
            passed to ``logwriter.init`` when the run is created.
        log_model: ``False``, ``True`` (best and last checkpoint at the end)
            or ``"all"`` (every checkpoint as it is written).
        shared: ``True`` writes one shared run from every rank (see the module
            docs); ``None`` follows ``RUNWAL_SHARED``, as ``logwriter.init`` does.
        prefix: put before every metric key (``prefix-key``), as in Lightning's loggers.
        **init_kwargs: further ``logwriter.init`` arguments (``resume``,
            ``capture_console``, ``server``, ...).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        id: str | None = None,
        dir: str | os.PathLike[str] | None = None,
        config: Any = None,
        mode: str | None = None,
        tags: Any = None,
        group: str | None = None,
        notes: str | None = None,
        job_type: str | None = None,
        log_model: bool | Literal["all"] = False,
        prefix: str = "",
        shared: bool | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if log_model not in (True, False, "all"):
            raise ValueError(f"runwal: RunwalLogger(log_model={log_model!r}): expected True, "
                             "False or 'all'")
        self._init = dict(init_kwargs, project=project, name=name, id=id, dir=dir,
                          config=config, mode=mode, tags=tags, group=group, notes=notes,
                          job_type=job_type)
        if shared is not None:
            self._init["shared"] = shared
        self._log_model = log_model
        self._prefix = prefix
        self._experiment: Run | None = None  # the run, kept after finalize for its id and dir
        self._finalized = False
        self._checkpoint_callbacks: dict[int, Checkpoint] = {}
        self._saved_mtime: dict[str, float] = {}
        # Shared runs: the id is one every rank has (given, the launcher's, or broadcast).
        self._id_agreed = id is not None

    def __getstate__(self) -> dict[str, Any]:
        # A spawned DDP worker gets a pickled copy: the Run (threads, a lock on its
        # directory) stays with the process that made it.
        state = self.__dict__.copy()
        state["_experiment"] = None
        return state

    @property
    def experiment(self) -> Run:
        """The logwriter Run (created on first use; rank 0 only unless shared)."""
        if self._shared():
            self._agree_id()
            return self._make_experiment()
        return self._rank_zero_experiment()

    @rank_zero_experiment
    def _rank_zero_experiment(self) -> Run:
        return self._make_experiment()

    def _make_experiment(self) -> Run:
        if self._experiment is None or self._finalized:
            kwargs = dict(self._init)
            if self._shared():
                rank = _global_rank()
                if kwargs.get("label") is None:
                    kwargs["label"] = f"rank_{rank}"
                if kwargs.get("primary") is None:
                    kwargs["primary"] = rank == 0
            self._experiment = logwriter.init(**kwargs)
            self._finalized = False
            # A later stage (trainer.test after fit) resumes this run, not a new one.
            self._init.update(id=self._experiment.id, resume="allow", config=None)
        return self._experiment

    def _shared(self) -> bool:
        return wants_shared(self._init.get("shared"))

    def _agree_id(self) -> None:
        """Give ``self._init["id"]`` the run id every rank opens (see the module docs)."""
        if self._id_agreed:
            return
        job = job_run_id()
        if job is not None and self._init.get("id") is None:
            self._init["id"] = job
            self._id_agreed = True
            return
        world = process_group_size()
        if world:
            if world > 1:
                # Rank 0's id, drawn now or that of the run it already made, for all.
                mine = (self._init.get("id") or new_run_id()) if _global_rank() == 0 else None
                self._init["id"] = broadcast_from_rank_zero(mine)
            elif self._init.get("id") is None:
                self._init["id"] = new_run_id()
            self._id_agreed = True
            return
        # No process group yet: only rank 0 may go ahead (its id is sent at setup).
        if self._init.get("id") is None:
            if _global_rank() != 0 and (_env_world_size() or 1) > 1:
                raise ValueError(
                    "runwal: RunwalLogger(shared=True) on rank "
                    f"{_global_rank()} cannot know the run id before the process group is "
                    "up: pass id= (the same on every rank), start torchrun with --rdzv-id, "
                    "or first use the logger in trainer.fit")
            self._init["id"] = new_run_id()

    @property
    def name(self) -> str | None:
        """The project, as WandbLogger names it (ModelCheckpoint's directory level)."""
        project = self._init.get("project")
        return str(project) if project is not None else "runwal"

    @property
    def version(self) -> str | None:
        """The run id; creates the run on rank 0 when no id was given."""
        if self._experiment is not None:
            return self._experiment.id
        if self._init.get("id") is None and _global_rank() == 0:
            return self.experiment.id
        return self._init.get("id")

    @property
    def save_dir(self) -> str | None:
        """The runs root (init's ``dir``); see the module docs for why not the run dir."""
        if self._experiment is not None:
            return self._experiment.settings.dir
        d = self._init.get("dir")
        return os.fspath(d) if d is not None else None

    @property
    def log_dir(self) -> str | None:
        """The run directory."""
        return self._experiment.run_dir if self._experiment is not None else None

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any,
                        **kwargs: Any) -> None:
        flat = _flatten_dict(_sanitize_callable_params(_convert_params(params)))
        self.experiment.config.update({str(k): _config_value(v) for k, v in flat.items()})

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        metrics = _add_prefix(dict(metrics), self._prefix, self.LOGGER_JOIN_CHAR)
        self.experiment.log({k: _scalar(v) for k, v in metrics.items()}, step=step)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Checkpoint) -> None:
        every = (self._log_model == "all" or (self._log_model is True
                 and getattr(checkpoint_callback, "save_top_k", None) == -1))
        if every:
            self._save_checkpoints(checkpoint_callback, policy="live")
        elif self._log_model is True:
            self._checkpoint_callbacks[id(checkpoint_callback)] = checkpoint_callback

    def finalize(self, status: str) -> None:
        """Finish the run (rank 0; in a shared run every rank finishes its stream)."""
        if _global_rank() != 0 and not self._shared():
            return  # rank_zero_only, as Lightning's loggers
        run = self._experiment
        if run is None or self._finalized:
            return
        if status == "success":
            for callback in self._checkpoint_callbacks.values():
                self._save_checkpoints(callback, policy="now")
            run.finish()
        elif status == "finished":
            run.finish_at_exit(0, "preempted")
        else:
            run.finish(exit_code=1)
        self._finalized = True

    def _save_checkpoints(self, callback: Checkpoint, policy: str) -> None:
        """Save the callback's checkpoints not saved yet (or rewritten since) into the run."""
        paths = {getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")}
        paths.update(getattr(callback, "best_k_models", {}) or {})
        for path in sorted(p for p in paths if p and os.path.isfile(p)):
            mtime = os.path.getmtime(path)
            if self._saved_mtime.get(path, -1.0) >= mtime:
                continue
            self.experiment.save(path, base_path=os.path.dirname(path), policy=policy)
            self._saved_mtime[path] = mtime


def _global_rank() -> int:
    """The global rank as Lightning knows it (set by the strategy; 0 outside DDP)."""
    return int(getattr(rank_zero_only, "rank", 0) or 0)


def _env_world_size() -> int | None:
    raw = os.environ.get("WORLD_SIZE", "").strip()
    return int(raw) if raw.isdigit() else None


def _config_value(value: Any) -> Any:
    """A hyper-parameter as runwal's config stores it: plain values and lists of
    them as they are, anything else (a module, a dtype, a Path) as its str."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value):
        return list(value)
    return str(value)


def _scalar(value: Any) -> Any:
    """A one-element tensor as a Python number; anything else as logged."""
    item = getattr(value, "item", None)
    numel = getattr(value, "numel", None)
    if callable(item) and callable(numel) and numel() == 1:
        return item()
    return value


__all__ = ["RunwalLogger"]
