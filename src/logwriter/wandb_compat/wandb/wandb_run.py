"""``wandb.wandb_run``: where Lightning's WandbLogger finds the Run class it checks for."""

from logwriter.session.run import Run

__all__ = ["Run"]
