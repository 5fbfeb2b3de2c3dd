"""``wandb.errors``: the exception names scripts catch. runwal raises its own errors
(logwriter.errors); these exist so ``except wandb.errors.CommError:`` still reads."""


class Error(Exception):
    """wandb's base error."""


class CommError(Error):
    """wandb's "cannot reach the server" error: runwal never talks to a server in training."""


class UsageError(Error):
    """wandb's usage error."""


__all__ = ["CommError", "Error", "UsageError"]
