"""Rich values for ``log()``, with wandb's names: Image, Audio, Video, Html,
Histogram, Table, and ``plot`` (tables with a chart spec).

One module per value (image.py, audio.py, ...), plus what they share:
base.py (a snapshot in the caller's thread, items on the media worker),
encode.py (PNG/WAV/GIF/MP4 bytes), worker.py (the thread that encodes and
stores, off the training loop and the writer), store.py (content-addressed
``files/media/<kind>/<sha256>.<ext>``), logged.py (what ``log()`` does with
them: ``media`` records, galleries, arrays as histograms, rich summary
values), figures.py (matplotlib figures as images, plotly as Html),
overlays.py (Image boxes/masks/classes), curves.py (plot.confusion_matrix,
roc_curve, pr_curve) and errors.py (the optional extras, ``pip install
'runwal[media]'``). The record and file layout is docs/FORMAT.md, "Media
and artifacts".

Object3D is not supported: it raises NotImplementedError when made.
"""

from __future__ import annotations

from typing import Any

from logwriter.media import plot
from logwriter.media.audio import Audio
from logwriter.media.base import Media
from logwriter.media.errors import MissingExtraError
from logwriter.media.histogram import Histogram
from logwriter.media.html import Html
from logwriter.media.image import Image
from logwriter.media.table import Table
from logwriter.media.video import Video

__all__ = ["Audio", "Histogram", "Html", "Image", "Media", "MissingExtraError", "Object3D",
           "Table", "Video", "plot"]


class Object3D:
    """wandb.Object3D (point clouds, meshes): not supported by runwal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "runwal: Object3D (point clouds and meshes) is not supported; save the file "
            "with run.save() instead")
