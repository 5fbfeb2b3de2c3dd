"""Media records to the real MLflow server, in the layouts MLflow's own client writes.

Each layout is compared with what MLflow 3.17's client produces on the same
server for the same data (``log_image(key=, step=)``, ``log_table``), then
the bytes are downloaded back; a second pass and a pass without checkpoint
send nothing new.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from mediautil import counting_rest, download, history, reference_run, tags, tree
from runbuilder import (
    T0,
    build_run,
    image_item,
    media_item,
    media_record,
    png_bytes,
    put_file,
    wav_bytes,
)
from schema.records import RecordType as R

PIL = pytest.importorskip("PIL.Image")
np = pytest.importorskip("numpy")

EXIT = (R.EXIT, T0 + 99, {"code": 0, "status": "finished", "runtime": 99.0})
IMAGE_NAME = re.compile(
    r"^images/(?P<key>[^+]+)\+step\+(?P<step>\d+)\+timestamp\+(?P<ts>\d+)"
    r"\+(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"(?P<suffix>\.png|\+compressed\.webp)$")


def _shape(names: list[str]) -> list[tuple[str, str, str]]:
    """(key, step, suffix) of each image file: what the UI's image panel parses."""
    out = []
    for n in names:
        m = IMAGE_NAME.match(n)
        assert m, n
        out.append((m["key"], m["step"], m["suffix"]))
    return sorted(out)


def test_images_in_log_image_layout(tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "img00001"
    red = image_item(root, 300, 200, (200, 30, 30), caption="red")
    blue = image_item(root, 40, 60, (30, 30, 200))
    green = image_item(root, 40, 60, (30, 200, 30))
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "samples/img", 0, "image", [red]),
        media_record(T0 + 2, "samples/img", 3, "image", [blue]),
        media_record(T0 + 3, "samples/img", 5, "image", [blue, green]),  # a gallery
        EXIT,
    ], run_id="img00001", project="p-media")
    with counting_rest(mlflow_uri) as cr:
        run_id = cr.synced(rd).server_run_id
        ours = tree(mlflow_uri, run_id, "images")

        # MLflow's own client, same key and steps, same images.
        c, ref = reference_run(mlflow_uri, "p-media-ref")
        arr = np.zeros((200, 300, 3), dtype=np.uint8)
        arr[..., 0], arr[..., 1], arr[..., 2] = 200, 30, 30
        small = np.zeros((60, 40, 3), dtype=np.uint8)
        c.log_image(ref, arr, key="samples/img", step=0, synchronous=True)
        for step, n in ((3, 1), (5, 2)):
            for _ in range(n):
                c.log_image(ref, small, key="samples/img", step=step, synchronous=True)
        theirs = tree(mlflow_uri, ref, "images")

        assert _shape(list(ours)) == _shape(list(theirs))
        assert len(ours) == 8  # 4 images, each .png + +compressed.webp
        assert tags(mlflow_uri, run_id)["mlflow.loggedImages"] == \
            tags(mlflow_uri, ref)["mlflow.loggedImages"] == "True"
        by_step: dict[str, list[str]] = {}
        for name in ours:
            m = IMAGE_NAME.match(name)
            assert m is not None
            by_step.setdefault(m["step"], []).append(name)
            if m["suffix"] == ".png":
                assert int(m["ts"]) == round((T0 + {"0": 1, "3": 2, "5": 3}[m["step"]]) * 1000)
        step0 = sorted(by_step["0"], key=lambda n: n.endswith(".webp"))  # .png first
        assert download(mlflow_uri, run_id, step0[0]) == png_bytes(300, 200, (200, 30, 30))
        webp = download(mlflow_uri, run_id, step0[1])
        assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
        ref0 = next(n for n in theirs if "+step+0+" in n and n.endswith(".webp"))
        ref_webp = download(mlflow_uri, ref, ref0)
        assert PIL.open(io.BytesIO(webp)).size == PIL.open(io.BytesIO(ref_webp)).size == (256, 170)
        gallery = {download(mlflow_uri, run_id, n) for n in by_step["5"] if n.endswith(".png")}
        assert gallery == {png_bytes(40, 60, (30, 30, 200)), png_bytes(40, 60, (30, 200, 30))}
        sent = sum(cr.puts.values())

        # Again: nothing sent. Without checkpoint: the same names, one copy each.
        again = cr.sync(rd)
        assert again.status == "skipped" and sum(cr.puts.values()) == sent
        shutil.rmtree(rd / "sync")
        lost = cr.sync(rd)
        assert lost.server_run_id == run_id and not lost.rejected
        assert tree(mlflow_uri, run_id, "images") == ours


def test_tables_in_log_table_layout(tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "tab00001"
    cell = image_item(root, 20, 10)
    table = {"columns": ["id", "label", "img"],
             "data": [[1, "cat", {"_type": "image", **cell}],
                      [2, "dog", {"_type": "image", **cell}]]}
    t0 = media_item(root, "table", json.dumps(table).encode(), "json", format="json", rows=2,
                    columns=3)
    plain = {"columns": ["a", "b"], "data": [[1, 2.5], [3, None]]}
    t1 = media_item(root, "table", json.dumps(plain).encode(), "json", format="json", rows=2,
                    columns=2)
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "eval/preds", 7, "table", [t0]),
        media_record(T0 + 2, "eval/preds", 8, "table", [t1]),
        EXIT,
    ], run_id="tab00001", project="p-media")
    with counting_rest(mlflow_uri) as cr:
        run_id = cr.synced(rd).server_run_id
        files = tree(mlflow_uri, run_id)
        assert {"tables/eval/preds/step_7.json", "tables/eval/preds/step_8.json"} <= set(files)
        # the image cell's file went up once, though two rows name it
        sha = cell["sha256"]
        assert {f"table_images/{sha}.png", f"table_images/{sha}.webp"} <= set(files)
        assert sum(n for p, n in cr.puts.items() if "table_images/" in p) == 2

        c, ref = reference_run(mlflow_uri, "p-media-ref")
        import pandas as pd

        c.log_table(ref, data=pd.DataFrame(plain["data"], columns=plain["columns"]),
                    artifact_file="tables/eval/preds/step_8.json")
        img = PIL.new("RGB", (20, 10), (200, 30, 30))
        c.log_table(ref, data={"id": [1], "img": [img]}, artifact_file="withimg.json")
        ref_tag = json.loads(tags(mlflow_uri, ref)["mlflow.loggedArtifacts"])
        our_tag = json.loads(tags(mlflow_uri, run_id)["mlflow.loggedArtifacts"])
        assert our_tag == [{"path": "tables/eval/preds/step_7.json", "type": "table"},
                           {"path": "tables/eval/preds/step_8.json", "type": "table"}]
        assert ref_tag[0] == our_tag[1]  # same entry shape for the same path

        ours8 = json.loads(download(mlflow_uri, run_id, "tables/eval/preds/step_8.json"))
        theirs8 = json.loads(download(mlflow_uri, ref, "tables/eval/preds/step_8.json"))
        assert ours8 == theirs8 == {"columns": ["a", "b"], "data": [[1, 2.5], [3, None]]}
        ours7 = json.loads(download(mlflow_uri, run_id, "tables/eval/preds/step_7.json"))
        their_cell = json.loads(download(mlflow_uri, ref, "withimg.json"))["data"][0][1]
        our_cell = ours7["data"][0][2]
        assert set(our_cell) == set(their_cell) == {"type", "filepath", "compressed_filepath"}
        assert our_cell == {"type": "image", "filepath": f"table_images/{sha}.png",
                            "compressed_filepath": f"table_images/{sha}.webp"}
        assert ours7["data"][1][:2] == [2, "dog"]
        assert download(mlflow_uri, run_id, our_cell["filepath"]) == png_bytes(20, 10)

        shutil.rmtree(rd / "sync")
        before = sum(n for p, n in cr.puts.items() if "table_images/" in p)
        cr.sync(rd)  # a replay without checkpoint: the cell images are not sent again
        assert sum(n for p, n in cr.puts.items() if "table_images/" in p) == before


def test_audio_video_html_and_histograms(tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "aud00001"
    wav = wav_bytes()
    clip = media_item(root, "audio", wav, "wav", format="wav", sample_rate=8000,
                      duration=0.1, caption="beep")
    gif = media_item(root, "video", b"GIF89a-not-really", "gif", format="gif", fps=4)
    page = media_item(root, "html", b"<h1>hi</h1>", "html", format="html")
    hist = {"bins": [0.0, 1.0, 2.0, 3.0, 4.0], "counts": [0, 2, 2, 0]}
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "sound", 1, "audio", [clip]),
        media_record(T0 + 2, "sound", 2, "audio", [clip]),  # same bytes again
        media_record(T0 + 3, "clip", 2, "video", [gif]),
        media_record(T0 + 4, "report", 3, "html", [page]),
        media_record(T0 + 5, "grad/w", 4, "histogram", [hist]),
        media_record(T0 + 6, "grad/w", 6, "histogram",
                     [{"bins": [-1.0, 0.0, 1.0], "counts": [3, 1]}]),
        EXIT,
    ], run_id="aud00001", project="p-media")
    with counting_rest(mlflow_uri) as cr:
        run_id = cr.synced(rd).server_run_id
        sha = clip["sha256"]
        media = tree(mlflow_uri, run_id, "media")
        assert media == {
            f"media/sound/{sha}.wav": len(wav),
            "media/sound/step_1.json": media["media/sound/step_1.json"],
            "media/sound/step_2.json": media["media/sound/step_2.json"],
            f"media/clip/{gif['sha256']}.gif": 17,
            "media/clip/step_2.json": media["media/clip/step_2.json"],
            f"media/report/{page['sha256']}.html": 11,
            "media/report/step_3.json": media["media/report/step_3.json"],
        }
        assert cr.puts[next(p for p in cr.puts if p.endswith(f"{sha}.wav"))] == 1
        assert download(mlflow_uri, run_id, f"media/sound/{sha}.wav") == wav
        assert download(mlflow_uri, run_id, f"media/report/{page['sha256']}.html") == \
            b"<h1>hi</h1>"
        index = json.loads(download(mlflow_uri, run_id, "media/sound/step_2.json"))
        assert index["step"] == 2 and index["items"][0]["file"] == f"media/sound/{sha}.wav"
        assert index["items"][0]["caption"] == "beep"

        assert history(mlflow_uri, run_id, "grad/w/min") == [(4, 1.0), (6, -1.0)]
        assert history(mlflow_uri, run_id, "grad/w/max") == [(4, 3.0), (6, 1.0)]
        assert history(mlflow_uri, run_id, "grad/w/mean") == [(4, 2.0), (6, -0.25)]
        std = history(mlflow_uri, run_id, "grad/w/std")
        assert std[0] == (4, 0.5) and std[1][0] == 6 and abs(std[1][1] - 0.4330127) < 1e-6
        full = json.loads(download(mlflow_uri, run_id, "histograms/grad/w/step_4.json"))
        assert full == {"key": "grad/w", "step": 4, **hist}

        shutil.rmtree(rd / "sync")
        cr.sync(rd)
        assert cr.puts[next(p for p in cr.puts if p.endswith(f"{sha}.wav"))] == 1
        assert len(history(mlflow_uri, run_id, "grad/w/min")) == 2


def test_a_missing_media_file_is_one_rejection_and_the_rest_goes(
        tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "mis00001"
    kept = image_item(root, 8, 8)
    gone = image_item(root, 9, 9, (1, 2, 3))
    (root / "files" / gone["file"]).unlink()
    link = put_file(root, "elsewhere.png", png_bytes(4, 4))
    (root / "files" / "media" / "image" / "link.png").symlink_to(root / "files" / "elsewhere.png")
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "img", 1, "image", [gone, kept]),
        media_record(T0 + 2, "img", 2, "image", [{**link, "file": "media/image/link.png"}]),
        (R.HISTORY, T0 + 3, {"step": 2, "data": {"loss": 0.5}}),
        EXIT,
    ], run_id="mis00001", project="p-media")
    with counting_rest(mlflow_uri) as cr:
        res = cr.sync(rd)
    assert res.status == "partial" and res.finished
    assert [(r.seq, r.key) for r in res.rejected] == [(1, gone["file"]),
                                                      (2, "media/image/link.png")]
    assert "missing on disk" in res.rejected[0].reason
    assert "symbolic link" in res.rejected[1].reason
    files = tree(mlflow_uri, res.server_run_id, "images")
    assert len(files) == 2 and all("+step+1+" in f for f in files)
    assert history(mlflow_uri, res.server_run_id, "loss") == [(2, 0.5)]


def test_the_sdk_s_rich_values_reach_the_server(tmp_path: Path, mlflow_uri: str) -> None:
    logwriter = pytest.importorskip("logwriter")
    if not hasattr(logwriter, "Image"):
        pytest.skip("this logwriter has no rich values yet")
    run = logwriter.init(project="p-media-sdk", dir=tmp_path, stats_interval=0,
                         capture_console=False)
    logwriter.define_metric("val/*", step_metric="epoch")
    pixels = np.full((8, 6, 3), 90, dtype=np.uint8)
    for _ in range(2):
        logwriter.log({"img": logwriter.Image(pixels), "w": np.arange(64.0)})
    logwriter.log({"tab": logwriter.Table(columns=["n", "im"],
                                          data=[[1, logwriter.Image(pixels)]])})
    logwriter.log({"val/acc": 0.5, "epoch": 7})
    (tmp_path / "weights.txt").write_text("w")
    art = logwriter.Artifact("model", type="model")
    art.add_file(str(tmp_path / "weights.txt"))
    run.log_artifact(art)
    logwriter.finish()
    with counting_rest(mlflow_uri) as cr:
        run_id = cr.synced(tmp_path / run.id).server_run_id
    files = tree(mlflow_uri, run_id)
    assert _shape([f for f in files if f.startswith("images/")]) == [
        ("img", "0", "+compressed.webp"), ("img", "0", ".png"),
        ("img", "1", "+compressed.webp"), ("img", "1", ".png")]
    assert {"tables/tab/step_2.json", "artifacts/model/v0/weights.txt",
            "artifacts/model/v0/MANIFEST.json", "histograms/w/step_0.json"} <= set(files)
    assert [s for s, _ in history(mlflow_uri, run_id, "w/mean")] == [0, 1]
    assert history(mlflow_uri, run_id, "val/acc") == [(7, 0.5)]
    t = tags(mlflow_uri, run_id)
    assert t["mlflow.loggedImages"] == "True" and t["runwal.artifacts.logged"] == "model:v0"
    table = json.loads(download(mlflow_uri, run_id, "tables/tab/step_2.json"))
    assert table["columns"] == ["n", "im"] and table["data"][0][1]["type"] == "image"


@pytest.mark.parametrize("fault", ["drop", "reset", "status:503"])
def test_a_media_upload_whose_answer_is_lost_is_repeated_harmlessly(
        tmp_path: Path, mlflow_uri: str, fault: str) -> None:
    from faultproxy import FaultProxy, Rules

    run_name = {"drop": "fltdrop1", "reset": "fltreset", "status:503": "flt50301"}[fault]
    root = tmp_path / run_name
    img = image_item(root, 12, 12)
    clip = media_item(root, "audio", wav_bytes(), "wav", format="wav", sample_rate=8000)
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "img", 0, "image", [img]),
        media_record(T0 + 2, "sound", 0, "audio", [clip]),
        EXIT,
    ], run_id=run_name, project="p-media-faults")
    # the 2nd artifact PUT (the thumbnail) fails once: applied and then lost, or not applied
    rule = Rules.nth("mlflow-artifacts/artifacts/", 2, fault)
    with FaultProxy(mlflow_uri, rule) as proxy, counting_rest(proxy.uri) as cr:
        res = cr.sync(rd)
        assert [e for e in proxy.log if e[3] != "pass"], proxy.log
    assert res.status == "synced" and not res.rejected, res
    files = tree(mlflow_uri, res.server_run_id)
    assert len([f for f in files if f.startswith("images/")]) == 2
    assert set(files) - {f for f in files if f.startswith("images/")} == {
        f"media/sound/{clip['sha256']}.wav", "media/sound/step_0.json"}
    assert download(mlflow_uri, res.server_run_id, f"media/sound/{clip['sha256']}.wav") == \
        wav_bytes()
