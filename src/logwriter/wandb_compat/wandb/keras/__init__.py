"""``wandb.keras``: wandb's older home of the Keras callbacks (wandb.integration.keras)."""

from ..integration.keras import WandbCallback, WandbMetricsLogger, WandbModelCheckpoint

__all__ = ["WandbCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]
