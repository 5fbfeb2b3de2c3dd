"""``wandb.sdk.wandb_run``: the Run class (runwal's)."""

from logwriter.session.run import Run

__all__ = ["Run"]
