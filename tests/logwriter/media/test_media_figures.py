"""Figures: matplotlib as PNG images rendered at log time, plotly as Html."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from logwriter.media import Image

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def pixels(logged: Any, item: dict[str, Any]) -> np.ndarray:
    img = PILImage.open(io.BytesIO(logged.data(item)))
    assert img.format == "PNG"
    return np.asarray(img)


def test_figures_are_images_as_they_were_when_logged(log_run: Any) -> None:
    fig = plt.figure(figsize=(2, 1.5), dpi=50)
    fig.gca().plot([0, 1, 2], [2, 0, 1], color="red")
    image = Image(fig, caption="made")
    logged_at = {"direct": fig, "wrapped": image, "pyplot": plt}
    rendered = log_run(logged_at, ({"later": fig}, {}))
    plt.close(fig)
    direct = rendered.item("direct")
    assert rendered.media[0]["kind"] == "image"
    assert (direct["format"], direct["width"], direct["height"]) == ("png", 100, 75)
    assert rendered.item("wrapped")["caption"] == "made"
    assert rendered.item("pyplot")["sha256"] == direct["sha256"]  # pyplot's current figure
    red = pixels(rendered, direct)
    assert ((red[..., 0] > 200) & (red[..., 1] < 80)).any()  # the line is in the pixels


def test_a_figure_changed_after_log_is_stored_as_logged(log_run: Any) -> None:
    fig = plt.figure(figsize=(1, 1), dpi=40)
    fig.gca().plot([0, 1], [0, 1])
    image = Image(fig)
    fig.clf()  # after Image(): the image keeps the line
    logged = log_run({"before": image}, {"after": fig})
    plt.close(fig)
    assert logged.item("before")["sha256"] != logged.item("after")["sha256"]


class _PlotlyFigure:
    """What runwal reads of a plotly figure (plotly is no dependency of the tests)."""

    __module__ = "plotly.graph_objs._figure"

    def __init__(self, html: str | None) -> None:
        self.html = html

    def to_plotly_json(self) -> dict[str, Any]:
        return {"data": []}

    def to_html(self, include_plotlyjs: Any = True) -> str:
        if self.html is None:
            raise ValueError("no renderer")
        return f"{self.html} js={include_plotlyjs}"


def test_plotly_figures_are_html(log_run: Any) -> None:
    logged = log_run({"chart": _PlotlyFigure("<div>chart</div>")})
    item = logged.item("chart")
    assert (logged.media[0]["kind"], item["format"]) == ("html", "html")
    assert logged.data(item) == b"<div>chart</div> js=cdn"
    with pytest.raises(TypeError, match="key 'chart': a plotly figure that cannot be"):
        log_run({"chart": _PlotlyFigure(None)}, run_id="bad")
    with pytest.raises(TypeError, match="plotly figure is no image"):
        Image(_PlotlyFigure("x"))


class _BrokenFigure:
    __module__ = "matplotlib.figure"

    def savefig(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no canvas")


def test_a_figure_that_cannot_render_names_the_key(log_run: Any) -> None:
    with pytest.raises(TypeError, match=r"key 'fig': cannot render .* no canvas"):
        log_run({"fig": _BrokenFigure()})
