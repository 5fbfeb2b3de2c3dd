"""``wandb.apis``: wandb's server API, which runwal does not have (see ``wandb.Api``)."""

from ..api import Api as InternalApi
from ..api import Api as PublicApi

__all__ = ["InternalApi", "PublicApi"]
