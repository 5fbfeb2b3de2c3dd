"""The wandb importer (logwriter.importers): offline runs written here by the real wandb
(pinned 0.31.0) in a subprocess, imported through `run_batch` (what ``python -m
logwriter.importers`` runs), checked point by point, damaged, re-imported. The command
(`runwal import wandb`) and syncing: test_import_command_wandb.py."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from importsources import WANDB_STEPS as STEPS
from importsources import make_offline_run, not_wandb_runs
from logwriter.importers.entry import run_batch
from logwriter.importers.wandblog import BLOCK
from logwriter_util import merged, of_kind, read_clean
from schema import import_protocol as protocol

pytest.importorskip("wandb.proto.wandb_internal_pb2")


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_offline_run(tmp_path_factory.mktemp("wb") / "ok")


def imp(*sources: Path, into: Path) -> list[dict[str, Any]]:
    """Import as the importer process does, and read its protocol lines back."""
    lines: list[str] = []
    results = run_batch("wandb", [str(s) for s in sources], into, say=lines.append)
    events = [protocol.parse_line(line) for line in lines]
    assert all(ev is not None for ev in events), lines
    assert [ev.result for ev in events if ev is not None and ev.result is not None] == results
    return [r.to_json() for r in results]


def only(results: list[dict[str, Any]]) -> dict[str, Any]:
    (r,) = results
    return r


def test_offline_run_imported_point_by_point(offline_run: Path, tmp_path: Path) -> None:
    r = only(imp(offline_run, into=tmp_path / "runs"))
    wandb_id = offline_run.name.rsplit("-", 1)[1]
    assert r["status"] == "imported" and r["run_id"].endswith(wandb_id)
    records = read_clean(r["run_dir"])
    rows = [rec for rec in records if rec.kind == "history"]
    assert [rec.body["step"] for rec in rows] == [*range(STEPS), STEPS + 10]
    for i, rec in enumerate(rows[:STEPS]):
        assert rec.body["data"] == {"loss": 1.0 / (i + 1), "acc/train": i * 0.5,
                                    "label": f"x{i}"}
    assert rows[-1].body["data"] == {"late": 7}
    assert all(b.ts >= a.ts for a, b in itertools.pairwise(rows))
    assert r["points"] == 3 * STEPS + 1
    run = of_kind(records, "run")[0]
    assert (run["project"], run["name"], run["tags"], run["notes"], run["group"],
            run["job_type"]) == ("wb-import", "nice", ["t1", "t2"], "a note", "g", "train")
    assert run["wandb"]["run_id"] == wandb_id
    assert json.loads((Path(r["run_dir"]) / "run.json").read_text())["project"] == "wb-import"
    assert merged(records, "config") == {"lr": 0.1, "opt": {"name": "adam"}}
    summary = merged(records, "summary")
    assert summary["best"] == 0.99 and summary["loss"] == 1.0 / STEPS and summary["late"] == 7
    assert not any(k.startswith("_") for k in summary)
    console = "".join(b["text"] for b in of_kind(records, "console"))
    assert "hello from wandb" in console and "to stderr" in console
    assert {b["stream"] for b in of_kind(records, "console")} == {"stdout", "stderr"}
    files = {b["path"]: b for b in of_kind(records, "file")}
    assert (Path(r["run_dir"]) / "files" / "model.txt").read_text() == "weights"
    assert files["model.txt"]["size"] == 7
    assert of_kind(records, "stats"), "wandb samples system stats at start"
    media = {m["kind"]: m for m in of_kind(records, "media")}
    assert (media["image"]["key"], media["image"]["step"]) == ("sample", 5)
    image = media["image"]["items"][0]
    png = (Path(r["run_dir"]) / "files" / image["file"]).read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) == image["size"]
    assert (image["width"], image["height"], image["caption"]) == (6, 4, "c5")
    assert media["histogram"] == {"key": "weights", "step": 5, "kind": "histogram",
                                  "items": [{"bins": [0.0, 0.5, 1.0], "counts": [1, 3]}]}
    assert summary["sample"] == {  # wandb's summary of the key: a reference to its record
        "_type": "image-file", "path": image["file"], "sha256": image["sha256"],
        "size": image["size"], "step": 5, "width": 6, "height": 4, "format": "png",
        "caption": "c5"}
    assert summary["weights"] == {"_type": "histogram", "step": 5}
    assert len(of_kind(records, "media")) == 2  # the summary wrote no record of its own
    assert of_kind(records, "exit") == [{"code": 0, "status": "finished",
                                         "runtime": of_kind(records, "exit")[0]["runtime"]}]
    # Again: same run id, nothing written.
    again = only(imp(offline_run.parent, into=tmp_path / "runs"))
    assert (again["run_id"], again["status"]) == (r["run_id"], "unchanged")


def test_failed_run_and_damaged_blocks(tmp_path: Path) -> None:
    src = make_offline_run(tmp_path / "failing", code=3)
    (log,) = src.glob("run-*.wandb")
    assert log.stat().st_size > 3 * BLOCK, "the run spans several blocks"
    data = bytearray(log.read_bytes())
    data[BLOCK + 100] ^= 0xFF  # a byte in block 1: its records are lost, the others kept
    log.write_bytes(bytes(data))
    r = only(imp(src, into=tmp_path / "runs"))
    assert r["status"] == "imported"  # damage skipped is a note, not a failure
    assert r["counts"]["damaged"] >= 1 and "damaged" in r["reason"]
    assert any("damaged bytes at offset" in n for n in r["notes"])
    records = read_clean(r["run_dir"])
    steps = [rec.body["step"] for rec in records if rec.kind == "history"]
    assert 0 < len(steps) < STEPS + 1 and steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == STEPS + 10  # before and after the damage
    assert of_kind(records, "exit")[0]["code"] == 3
    assert of_kind(records, "exit")[0]["status"] == "failed"


def test_not_a_wandb_run(tmp_path: Path) -> None:
    bad, empty = not_wandb_runs(tmp_path)
    res = imp(bad, empty, into=tmp_path / "runs")
    assert [r["status"] for r in res] == ["failed", "failed"]
    reasons = [r["reason"] for r in res]
    assert "no wandb log header" in reasons[0] and "no wandb run here" in reasons[1]


def test_a_live_run_grows_and_is_appended(offline_run: Path, tmp_path: Path) -> None:
    """An import of a run still being written, then of the finished run: only the rest."""
    src = tmp_path / offline_run.name
    shutil.copytree(offline_run, src)
    (log,) = src.glob("run-*.wandb")
    whole = log.read_bytes()
    log.write_bytes(whole[: len(whole) // 2])
    first = only(imp(src, into=tmp_path / "runs"))
    assert first["status"] == "imported" and 0 < first["points"] < 3 * STEPS
    log.write_bytes(whole)
    second = only(imp(src, into=tmp_path / "runs"))
    assert (second["status"], second["run_id"]) == ("appended", first["run_id"])
    records = read_clean(second["run_dir"])
    steps = [rec.body["step"] for rec in records if rec.kind == "history"]
    assert steps == [*range(STEPS), STEPS + 10]
    assert [e["status"] for e in of_kind(records, "exit")] == ["killed", "finished"]


def test_without_the_extra_every_source_is_a_missing_extra_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in ("wandb", "wandb.proto", "wandb.proto.wandb_internal_pb2"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "logwriter.importers.wandb", raising=False)
    res = imp(tmp_path, tmp_path / "other", into=tmp_path / "runs")
    assert [r["status"] for r in res] == ["failed", "failed"]
    lines: list[str] = []
    run_batch("wandb", [str(tmp_path)], tmp_path / "runs", say=lines.append)
    (result,) = [ev.result for ev in map(protocol.parse_line, lines)
                 if ev is not None and ev.result is not None]
    assert result.error == protocol.MISSING_EXTRA
    assert "pip install 'runwal[wandb-import]'" in result.reason
    assert not (tmp_path / "runs").exists()  # nothing was done
