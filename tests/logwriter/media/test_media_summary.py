"""Rich values in the summary: a media record at the current step, a reference kept."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import logwriter
from logwriter.media import Histogram, Image, Table
from logwriter_util import QUIET, of_kind, read_clean

RGB = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)


def run_dir(run: Any) -> Path:
    return Path(getattr(run, "run_dir", None) or run.dir)


def test_a_rich_summary_value_is_a_media_record_and_a_reference(tmp_path: Path) -> None:
    run = logwriter.init(project="p", id="s", dir=tmp_path, mode="offline", **QUIET)
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    run.summary["best_sample"] = Image(RGB, caption="best")
    run.summary.update({"preds": Table(columns=["a"], data=[[1], [2]]), "acc": 0.9,
                        "weights": Histogram([1.0, 2.0, 3.0])})
    ref = run.summary["best_sample"]
    run.finish()
    records = read_clean(run_dir(run))
    media = {b["key"]: b for b in of_kind(records, "media")}
    assert set(media) == {"best_sample", "preds", "weights"}
    assert {b["step"] for b in media.values()} == {2}  # the run's current step
    (item,) = media["best_sample"]["items"]
    assert ref == {"_type": "image-file", "path": item["file"], "sha256": item["sha256"],
                   "size": item["size"], "step": 2, "width": 5, "height": 4, "format": "png",
                   "caption": "best"}
    data = (run_dir(run) / "files" / item["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    summary: dict[str, Any] = {}
    for body in of_kind(records, "summary"):
        summary.update(body)
    assert summary["best_sample"] == ref and summary["acc"] == 0.9
    assert summary["preds"]["_type"] == "table-file" and summary["preds"]["rows"] == 2
    assert summary["weights"] == {"_type": "histogram", "step": 2}
    assert summary["loss"] == 0.5


def test_a_bad_summary_update_writes_nothing(tmp_path: Path) -> None:
    run = logwriter.init(project="p", id="b", dir=tmp_path, mode="offline", **QUIET)
    with pytest.raises(TypeError, match="key 'bad'"):
        run.summary.update({"img": Image(RGB), "bad": object()})
    with pytest.raises(TypeError, match="key 'g' holds a list of 2 image values"):
        run.summary["g"] = [Image(RGB), Image(RGB)]
    run.finish()
    records = read_clean(run_dir(run))
    assert of_kind(records, "media") == [] and "img" not in run.summary
    assert not (run_dir(run) / "files" / "media").exists()


def test_a_figure_in_the_summary_is_an_image(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1), dpi=20)
    run = logwriter.init(project="p", id="f", dir=tmp_path, mode="offline", **QUIET)
    run.summary["chart"] = fig
    plt.close(fig)
    assert run.summary["chart"]["_type"] == "image-file"
    assert (run.summary["chart"]["width"], run.summary["chart"]["height"]) == (20, 20)
    run.finish()
