"""runwal's SDK: log training runs to a crash-safe local write-ahead log.

Usage, as with wandb::

    import logwriter
    run = logwriter.init(project="mnist", config={"lr": 1e-3})
    for step in range(1000):
        logwriter.log({"loss": loss, "acc": acc})
    logwriter.finish()

This module only exports. The calls and the current run live in
``logwriter/current.py`` (whose docstring gives the step, value, crash and
mode semantics), the Run in ``logwriter/session/``; docs/ARCHITECTURE.md maps
the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from logwriter import current
from logwriter.current import (
    alert,
    config,
    define_metric,
    finish,
    init,
    log,
    log_artifact,
    log_model,
    save,
    summary,
    unwatch,
    use_artifact,
    watch,
)
from logwriter.media import Audio, Histogram, Html, Image, Object3D, Table, Video, plot
from logwriter.session.run import Run

if TYPE_CHECKING:
    from logwriter.artifacts.artifact import Artifact

__version__ = "0.1.0"
__all__ = [
    "Artifact",
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "Object3D",
    "Run",
    "Table",
    "Video",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "log_model",
    "plot",
    "run",
    "save",
    "summary",
    "unwatch",
    "use_artifact",
    "watch",
]


def __getattr__(name: str) -> Any:
    """``logwriter.run`` is the current run, read from ``logwriter.current`` at each
    access (wandb's ``wandb.run``). ``logwriter.Artifact`` is imported on first use:
    the artifacts package (its hashing and temp-file machinery) costs ~15 ms, a third
    of ``import logwriter``."""
    if name == "run":
        return current.run
    if name == "Artifact":
        from logwriter.artifacts.artifact import Artifact

        globals()["Artifact"] = Artifact
        return Artifact
    raise AttributeError(f"module 'logwriter' has no attribute {name!r}")
