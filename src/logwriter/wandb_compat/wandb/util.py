"""``wandb.util``: the helper scripts use from it, ``generate_id`` (a new run id)."""

from __future__ import annotations

from logwriter.session.settings import new_run_id


def generate_id(length: int = 8) -> str:
    """A new random run id, as ``wandb.util.generate_id()`` (base-36, ``length`` chars)."""
    out = ""
    while len(out) < length:
        out += new_run_id()
    return out[:length]


__all__ = ["generate_id"]
