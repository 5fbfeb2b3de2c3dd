"""What the framework integrations need to open one shared run from every process.

``init(shared=True)`` takes the run id from the launcher (session/shared.py:
``torchrun --rdzv-id``, Slurm). When there is none, the processes of a job
must still agree on one id before each opens its stream; these are the ways
the integrations do it, with torch.distributed imported only when called:

* `process_group_size`: the default process group's size (0 when there is
  none yet), to know whether a collective is possible;
* `broadcast_from_rank_zero`: rank 0's id on every rank (a collective: every
  rank must call it at the same point, e.g. Lightning's setup hook or HF's
  ``on_train_begin``).
"""

from __future__ import annotations

from logwriter.session.shared import shared_default


def process_group_size() -> int:
    """The default process group's size; 0 when there is none (yet)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 0


def broadcast_from_rank_zero(value: str | None) -> str:
    """Rank 0's ``value`` on every rank: a collective, every rank must call it."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    if not isinstance(box[0], str):
        raise RuntimeError(f"runwal: rank 0 sent no run id ({box[0]!r})")
    return box[0]


def wants_shared(flag: bool | None) -> bool:
    """init()'s rule for an integration's ``shared=``: as given, else RUNWAL_SHARED."""
    return bool(flag) if flag is not None else shared_default()


__all__ = ["broadcast_from_rank_zero", "process_group_size", "wants_shared"]
