"""Shared runs: every process of a distributed job writes one run (``init(shared=True)``).

Each process is one *writer stream* of the run, with its own segments, dense
seqs and writer lock, so a rank killed with -9 costs only its own last flush
interval and never touches another rank's bytes (docs/FORMAT.md, "Streams")::

    runs/<run_id>/              the primary's stream: run.json, log/, files/
    runs/<run_id>/streams/<label>/  each other process's stream: log/, files/

The primary (rank 0 by default) owns the run's identity, its config and
summary as the server shows them, and its final status; any process may
``log()``, and every process records its own system metrics and console.
What a non-primary process records under names of its own (config, summary,
metrics) is kept in its stream and synced under ``<label>/``: nothing is
dropped, and no rank overwrites another's.

Defaults come from the launcher's environment, so the same script runs
unchanged under ``torchrun``, ``srun``, ``mpirun`` or ``accelerate launch``:

=========  ===========================================================
id         ``id=``, else TORCHELASTIC_RUN_ID (``torchrun --rdzv-id``),
           else SLURM_JOB_ID (+ ``_`` SLURM_STEP_ID); else a new one only for
           an explicit ``primary=True`` (wandb's pattern: the primary passes its
           ``run.id`` on); otherwise ValueError
label      ``label=``, else ``rank_<RANK>`` (RANK, SLURM_PROCID, PMI_RANK,
           OMPI_COMM_WORLD_RANK), else ``<host>_<pid>``
primary    ``primary=``, else rank 0 (no rank known: True)
=========  ===========================================================

This module only resolves those; the run directory is made by
session/resume.py and written by the Run like any other.
"""

from __future__ import annotations

import os
import re
from typing import Any

from schema.layout import STREAM_LABEL

_RANK_VARS = ("RANK", "SLURM_PROCID", "PMI_RANK", "OMPI_COMM_WORLD_RANK")
_LOCAL_RANK_VARS = ("LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK")
_WORLD_VARS = ("WORLD_SIZE", "SLURM_NTASKS", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_NODE_VARS = ("GROUP_RANK", "SLURM_NODEID")


def _env_int(names: tuple[str, ...]) -> int | None:
    for name in names:
        raw = os.environ.get(name, "").strip()
        if raw.isdigit():
            return int(raw)
    return None


def shared_default() -> bool:
    """Whether init() makes a shared run when ``shared=`` is not given: RUNWAL_SHARED."""
    return os.environ.get("RUNWAL_SHARED", "").strip().lower() in ("1", "true", "yes")


def job_run_id() -> str | None:
    """The launcher's id for this job, shared by all its processes; None if none."""
    elastic = os.environ.get("TORCHELASTIC_RUN_ID", "").strip()
    if elastic and elastic != "none":  # torchrun's default when --rdzv-id is not given
        return elastic
    job = os.environ.get("SLURM_JOB_ID", "").strip()
    if job:
        step = os.environ.get("SLURM_STEP_ID", "").strip()
        return f"{job}_{step}" if step else job
    return None


def resolve_shared(run_id: str | None, label: str | None, primary: bool | None
                   ) -> tuple[str, str, bool, dict[str, Any]]:
    """(run id, label, primary, the facts recorded in the stream's RUN record);
    ValueError when no id can be found or the label is no valid name."""
    if run_id is None:
        run_id = job_run_id()
        if run_id is None and primary is True:
            # wandb's pattern: the primary (x_primary=True) makes the run and hands its
            # run.id to the other processes itself
            from logwriter.session.settings import new_run_id

            run_id = new_run_id()
        if run_id is None:
            raise ValueError(
                "runwal: init(shared=True) needs the run's id: pass id= (the same in every "
                "process), or start the job with torchrun --rdzv-id or under Slurm (only an "
                "explicit primary=True may make a new one and pass its run.id on)")
    rank = _env_int(_RANK_VARS)
    if label is None:
        label = f"rank_{rank}" if rank is not None else f"{os.uname().nodename}_{os.getpid()}"
        label = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:64]
    if not isinstance(label, str) or not STREAM_LABEL.fullmatch(label):
        raise ValueError(f"runwal: label={label!r} must be 1-64 letters, digits, '_.-', "
                         "not starting with '.', '_' or '-'")
    if primary is None:
        primary = rank is None or rank == 0
    facts = {"label": label, "primary": bool(primary), "rank": rank,
             "local_rank": _env_int(_LOCAL_RANK_VARS), "world_size": _env_int(_WORLD_VARS),
             "node_rank": _env_int(_NODE_VARS)}
    return run_id, label, bool(primary), facts
