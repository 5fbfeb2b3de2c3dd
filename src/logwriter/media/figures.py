"""Figures logged as wandb users log them: matplotlib as PNG images, plotly as Html.

``log({"chart": fig})``, ``log({"chart": plt})`` (the pyplot module: its
current figure, wandb's spelling) and ``Image(fig)`` take a matplotlib
figure. A figure is mutable (the next ``plt.plot`` draws into it, ``clf()``
empties it), so it is rendered at log time, on the caller's thread, with
``fig.savefig(BytesIO(), format="png")`` (tens of milliseconds, which a
plot logged every few hundred steps can afford); the PNG bytes then go the
way of an image file (image.py). wandb turns matplotlib figures into plotly
charts when plotly is installed; runwal keeps the pixels, which MLflow's
image panel shows.

A plotly figure (``plotly.graph_objects.Figure``) is stored as Html, its
``to_html(include_plotlyjs="cdn")`` (the page loads plotly.js from its CDN,
as wandb's own export does). plotly is no dependency of runwal: a script
that has a plotly figure has plotly. Nothing is imported here unless a
value came from one of them (``module_of``).
"""

from __future__ import annotations

import io
import types
from typing import Any

from logwriter.media.base import Media, module_of, type_name


def is_figure(value: Any) -> bool:
    """A matplotlib figure or the pyplot module, or a plotly figure (cheap: no import)."""
    if isinstance(value, types.ModuleType):
        return value.__name__ == "matplotlib.pyplot"
    module = module_of(value)
    return (module == "matplotlib" and hasattr(value, "savefig")) or (
        module == "plotly" and hasattr(value, "to_plotly_json"))


def figure_png(value: Any, what: str) -> bytes:
    """PNG bytes of a matplotlib figure (or of pyplot's current one), rendered now."""
    fig = value.gcf() if isinstance(value, types.ModuleType) else value
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    except Exception as exc:  # a backend or artist error: the user's figure, named
        raise TypeError(f"runwal: {what}: cannot render the matplotlib figure as PNG "
                        f"({type(exc).__name__}: {exc})") from None
    return buf.getvalue()


def as_media(value: Any, key: str, where: str) -> Media:
    """The rich value a figure logged under ``key`` is stored as; TypeError naming the
    key for a figure that cannot be."""
    from logwriter.media.html import Html
    from logwriter.media.image import Image

    if module_of(value) != "plotly":
        try:
            return Image(value)
        except TypeError as exc:
            why = str(exc).removeprefix("runwal: Image(): ")
            raise TypeError(f"runwal: {where}: value for key {key!r}: {why}") from None
    to_html = getattr(value, "to_html", None)
    try:
        if not callable(to_html):
            raise TypeError(f"{type_name(value)} has no to_html()")
        return Html(to_html(include_plotlyjs="cdn"), data_is_not_path=True)
    except Exception as exc:
        raise TypeError(f"runwal: {where}: value for key {key!r}: a plotly figure that "
                        f"cannot be written as HTML ({type(exc).__name__}: {exc}); "
                        "log fig.to_image() as an Image instead") from None
