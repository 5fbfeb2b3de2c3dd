"""The wandb importer's rich values beyond images and histograms: tables, audio, video and
html (one or a gallery) from an offline run the real wandb (0.31.0) writes here, each a
media record whose file is the one wandb wrote; rich summary values as references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from importsources import make_offline_run
from logwriter.importers.entry import run_batch
from logwriter_util import merged, of_kind, read_clean

pytest.importorskip("wandb.proto.wandb_internal_pb2")

SCRIPT = """
import wave, numpy as np, imageio.v3 as iio, wandb
with wave.open("a.wav", "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(b"\\0\\0" * 800)
iio.imwrite("v.gif", np.zeros((3, 4, 6, 3), np.uint8), extension=".gif")
iio.imwrite("w.gif", np.full((2, 4, 6, 3), 255, np.uint8), extension=".gif")
run = wandb.init(project="wb-media")
wandb.log({"loss": 1.0})
wandb.log({"tab": wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]]),
           "aud": wandb.Audio("a.wav", caption="ac"), "vid": wandb.Video("v.gif", caption="vc"),
           "page": wandb.Html("<b>hi</b>"), "clips": [wandb.Video("v.gif"), wandb.Video("w.gif")],
           "pages": [wandb.Html("<i>1</i>"), wandb.Html("<i>2</i>")], "loss": 0.5})
run.summary["best"] = wandb.Image(np.full((3, 5, 3), 7, np.uint8), caption="best")
run.finish()
"""


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    where = tmp_path_factory.mktemp("wbm")
    source = make_offline_run(where / "src", script=SCRIPT)
    results = [r.to_json() for r in run_batch("wandb", [str(source)], where / "runs",
                                              say=lambda line: None)]
    (r,) = results
    assert r["status"] == "imported", r
    return r, source


def test_tables_audio_video_html_are_media_records(
        imported: tuple[dict[str, Any], Path]) -> None:
    r, source = imported
    run_dir = Path(r["run_dir"])
    records = read_clean(run_dir)
    media = {b["key"]: b for b in of_kind(records, "media")}
    assert set(media) == {"tab", "aud", "vid", "page", "clips", "pages", "best"}
    assert {b["step"] for b in media.values()} == {1}
    kinds = {k: (b["kind"], len(b["items"])) for k, b in media.items()}
    assert kinds == {"tab": ("table", 1), "aud": ("audio", 1), "vid": ("video", 1),
                     "page": ("html", 1), "clips": ("video", 2), "pages": ("html", 2),
                     "best": ("image", 1)}

    def data(item: dict[str, Any]) -> bytes:
        blob = (run_dir / "files" / item["file"]).read_bytes()
        assert len(blob) == item["size"] and item["file"].endswith(
            f"{item['sha256']}.{item['file'].rsplit('.', 1)[1]}")
        return blob

    (tab,) = media["tab"]["items"]
    assert (tab["format"], tab["rows"], tab["columns"]) == ("json", 2, ["a", "b"])
    assert json.loads(data(tab)) == {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}
    (aud,) = media["aud"]["items"]
    assert (aud["sample_rate"], aud["duration"], aud["format"], aud["caption"]) == (
        8000, 0.1, "wav", "ac")
    assert data(aud) == (source.parent.parent / "a.wav").read_bytes()
    (vid,) = media["vid"]["items"]
    assert (vid["format"], vid["caption"], vid["fps"]) == ("gif", "vc", None)
    assert data(vid)[:3] == b"GIF"
    assert data(media["page"]["items"][0]).decode().endswith("<b>hi</b>")
    assert len({i["sha256"] for i in media["clips"]["items"]}) == 2
    assert [data(i).decode()[-8:] for i in media["pages"]["items"]] == ["<i>1</i>", "<i>2</i>"]
    counts = r["counts"]
    assert not any(k.startswith(("skipped_table", "skipped_audio", "skipped_video",
                                 "skipped_html")) for k in counts), counts
    assert {k: counts[k] for k in ("tables", "audios", "videos", "htmls", "images")} == {
        "tables": 1, "audios": 1, "videos": 2, "htmls": 2, "images": 1}  # one per record
    assert len(of_kind(records, "media")) == 7


def test_rich_summary_values_are_references(imported: tuple[dict[str, Any], Path]) -> None:
    r, _ = imported
    records = read_clean(r["run_dir"])
    summary = merged(records, "summary")
    media = {b["key"]: b for b in of_kind(records, "media")}
    (best,) = media["best"]["items"]  # set in the summary only: a record of its own
    assert summary["best"] == {"_type": "image-file", "path": best["file"],
                               "sha256": best["sha256"], "size": best["size"], "step": 1,
                               "width": 5, "height": 3, "format": "png", "caption": "best"}
    (tab,) = media["tab"]["items"]  # wandb's summary of a logged key: its record
    assert (summary["tab"]["_type"], summary["tab"]["path"]) == ("table-file", tab["file"])
    assert summary["aud"]["path"] == media["aud"]["items"][0]["file"]
    assert summary["loss"] == 0.5
