"""``wandb.sdk``: the submodules training frameworks import from wandb's SDK, and
nothing more (``wandb.sdk.lib``, ``wandb.sdk.wandb_run``)."""

from wandb.sdk import lib, wandb_run

__all__ = ["lib", "wandb_run"]
