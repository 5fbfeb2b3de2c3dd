"""``RunwalTracker``: an accelerate tracker that writes a runwal run.

Usage::

    from accelerate import Accelerator
    from logwriter.integrations.accelerate import RunwalTracker
    accelerator = Accelerator(log_with=RunwalTracker(project="mnist"))
    accelerator.init_trackers("mnist", config={"lr": 1e-3})
    accelerator.log({"loss": loss}, step=step)
    accelerator.end_training()

accelerate passes ``init_trackers``' project name only to its built-in
trackers, so a RunwalTracker takes ``project`` (and every other
``logwriter.init`` argument) at construction. The run is created in
``start()``, which ``init_trackers`` calls, and only on the main process
(``main_process_only``, honoured by accelerate's ``on_main_process``): one
process writes the run. ``finish()`` (from ``end_training``) finishes it.

Shared runs: ``RunwalTracker(shared=True)`` (or ``RUNWAL_SHARED=1`` in the
environment, when ``shared`` is not given) makes every process of the job a
writer of one run (``logwriter.init(shared=True)``, session/shared.py): the
main process the primary (the run's own ``log/``), every other one its stream
``streams/rank_<RANK>/``, with its own system metrics and console. The tracker
then sets ``main_process_only = False``, so its methods run on whichever
process calls them. accelerate itself still calls trackers on the main
process only (``Accelerator.init_trackers`` and ``Accelerator.log`` are
main-process-only in accelerate 1.x, and ``end_training`` finishes only the
trackers ``init_trackers`` started): so a non-main process starts its stream
when the tracker is constructed (every process builds it, before passing it
to ``Accelerator(log_with=...)``) and finishes it at exit, as runwal finishes
any run left open (status from the exit code). The main process starts at
``init_trackers`` and finishes at ``end_training`` as before; config and
metrics are logged there, as accelerate logs them.

Every process must open the same run id, and it is settled at construction,
where every process is: ``id=``; else the launcher's job id (``torchrun
--rdzv-id``'s TORCHELASTIC_RUN_ID, Slurm's job id); else, when the process
group is already up, one the main process draws and broadcasts
(``torch.distributed.broadcast_object_list``); else, under torchrun or
``accelerate launch`` (torchelastic), the first id any process puts into
torchelastic's agent store (a TCPStore at MASTER_ADDR:MASTER_PORT that every
worker reaches before the process group exists): first writer wins, the others
read it, so no process waits on another. With none of these and more than one
process the tracker raises ValueError: pass ``id=``.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from accelerate.tracking import GeneralTracker, on_main_process
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("runwal: logwriter.integrations.accelerate needs accelerate; "
                      "pip install 'runwal[accelerate]'") from exc

import logwriter
from logwriter.integrations.distributed import (
    broadcast_from_rank_zero,
    process_group_size,
    wants_shared,
)
from logwriter.session.run import Run
from logwriter.session.shared import job_run_id, resolve_shared

# The agent-store key a shared run's id is agreed under; numbered per tracker made.
_STORE_KEY = "runwal/shared_run_id/{}"
_STORE_TIMEOUT_S = 60.0
_made = 0  # shared trackers agreed through the agent store in this process


class RunwalTracker(GeneralTracker):
    """Log an Accelerator's config and metrics to runwal.

    Args:
        **init_kwargs: ``logwriter.init`` arguments (project, name, id, dir,
            config, mode, tags, group, ...), used when the run starts.
            ``shared=True`` (or ``RUNWAL_SHARED=1``) writes one shared run from
            every process (see the module docs).
    """

    name = "runwal"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, **init_kwargs: Any) -> None:
        super().__init__()
        self._init = init_kwargs
        self._run: Run | None = None
        if wants_shared(init_kwargs.get("shared")):
            self.main_process_only = False
            self._init = dict(init_kwargs, shared=True, id=_agreed_id(init_kwargs.get("id")))
            _, _, primary, _ = resolve_shared(self._init["id"], self._init.get("label"),
                                              self._init.get("primary"))
            if not primary:
                # accelerate never starts a tracker off the main process: start here.
                self._run = logwriter.init(**self._init)

    @on_main_process
    def start(self) -> None:
        if self._run is None:
            self._run = logwriter.init(**self._init)

    @property
    def tracker(self) -> Run | None:
        """The logwriter Run (None before start() and on other processes)."""
        return self._run

    def _started(self) -> Run:
        if self._run is None:
            self.start()
        assert self._run is not None
        return self._run

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self._started().config.update(values)

    @on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self._started().log(values, step=step, **kwargs)

    @on_main_process
    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


def _agreed_id(given: str | None) -> str:
    """The run id every process of the job opens (the order is the module docs')."""
    global _made
    from logwriter.session.settings import new_run_id

    if given is not None:
        return given
    job = job_run_id()
    if job is not None:
        return job
    import torch.distributed as dist

    world_now = process_group_size()
    if world_now:
        if world_now == 1:
            return new_run_id()
        return broadcast_from_rank_zero(new_run_id() if dist.get_rank() == 0 else None)
    world = _env_int("WORLD_SIZE")
    if world is None or world <= 1:
        return new_run_id()
    address, port = os.environ.get("MASTER_ADDR", ""), _env_int("MASTER_PORT")
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and address and port:
        from datetime import timedelta

        store = dist.TCPStore(address, port, is_master=False,
                              timeout=timedelta(seconds=_STORE_TIMEOUT_S))
        _made += 1
        agreed = store.compare_set(_STORE_KEY.format(_made), "", new_run_id())
        return agreed.decode() if isinstance(agreed, bytes) else str(agreed)
    raise ValueError(
        "runwal: RunwalTracker(shared=True) needs the run's id, the same in every process: "
        "pass id=, or start the job with torchrun/accelerate launch, or under Slurm")


__all__ = ["RunwalTracker"]
