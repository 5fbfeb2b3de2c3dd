"""Errors of rich values, and the one place optional extras are imported.

Tree::

    ImportError
      MissingExtraError      a value needs an optional package that is not installed

Bad input (an array of the wrong shape, a cell a table cannot hold) is a
plain TypeError or ValueError raised in the caller's thread, as everywhere
in the SDK (values/convert.py): the message names the value and, once it reaches
``log()``, the key.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA = "runwal[media]"
# import name -> the distribution pip installs it from
_DISTRIBUTIONS = {"PIL": "pillow", "imageio": "imageio", "pandas": "pandas", "numpy": "numpy",
                  "imageio_ffmpeg": "imageio-ffmpeg"}


class MissingExtraError(ImportError):
    """A rich value needs an optional package (``pip install 'runwal[media]'``)."""

    def __init__(self, module: str, what: str) -> None:
        dist = _DISTRIBUTIONS.get(module, module)
        super().__init__(
            f"runwal: {what} needs {dist}, which is not installed; "
            f"pip install '{EXTRA}' (or pip install {dist})",
            name=module,
        )


def need(module: str, what: str) -> ModuleType:
    """Import ``module`` for ``what`` ("Video(format='gif')"), or MissingExtraError.

    Called in the caller's thread when the value is made, so that a missing
    package is an error at the line that needs it, never a failure later on
    the media worker's thread.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, what) from exc
