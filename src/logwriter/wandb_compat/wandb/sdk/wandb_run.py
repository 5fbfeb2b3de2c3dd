"""``wandb.sdk.wandb_run``: the Run class (runwal's)."""

from logwriter.run_object import Run

__all__ = ["Run"]
