"""``wandb.sdk.lib``: ``RunDisabled``, which Lightning's WandbLogger names next to Run.

runwal's disabled mode returns a Run whose calls do nothing, so no object is
ever a RunDisabled; the class exists for ``isinstance`` checks.
"""

from wandb.sdk.lib import config_util


class RunDisabled:
    """Never instantiated by runwal (a disabled run is a Run): for isinstance checks."""


__all__ = ["RunDisabled", "config_util"]
