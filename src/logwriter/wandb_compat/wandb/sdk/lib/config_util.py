"""``wandb.sdk.lib.config_util``: ``ConfigError``, which transformers' WandbCallback catches.

runwal's config raises TypeError/ValueError for a value it cannot store; it
never raises this one.
"""


class ConfigError(Exception):
    """wandb's config error (never raised by runwal)."""


__all__ = ["ConfigError"]
