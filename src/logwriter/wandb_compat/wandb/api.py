"""``wandb.Api``: wandb's client for its server's runs. runwal has no such server: its
runs are on disk until synced to MLflow, so constructing one fails with one line that
says what to use instead."""

from __future__ import annotations

from typing import Any

from .errors import UsageError


class Api:
    """Raises at construction: see the module docs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(
            "runwal: wandb.Api() reads runs from wandb's server, which runwal does not use; "
            "runs are on disk: `runwal ls RUNS`, `runwal show RUN`, `runwal dump RUN`, "
            "or, once synced, MLflow's client (mlflow.tracking.MlflowClient)")


__all__ = ["Api"]
