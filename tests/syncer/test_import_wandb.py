"""``runwal import wandb``: offline runs written here by the real wandb (pinned 0.31.0) in a
subprocess, imported and checked point by point, damaged, re-imported, synced."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from logwriter_util import merged, of_kind, read_clean
from syncer.cli.main import main
from syncer.importers.wandblog import BLOCK
from syncutil import client, runs_tagged

pytest.importorskip("wandb.proto.wandb_internal_pb2")

RUNWAL = Path(sys.executable).with_name("runwal")
STEPS = 300

SCRIPT = """
import sys, wandb
run = wandb.init(project="wb-import", name="nice", config={"lr": 0.1, "opt": {"name": "adam"}},
                 tags=["t1", "t2"], notes="a note", group="g", job_type="train")
for i in range(%(steps)d):
    row = {"loss": 1.0 / (i + 1), "acc/train": i * 0.5, "label": "x%%d" %% i}
    if i == 5:
        import numpy as np
        row["sample"] = wandb.Image(np.full((4, 6, 3), 200, dtype=np.uint8), caption="c5")
        row["weights"] = wandb.Histogram(np_histogram=([1, 3], [0.0, 0.5, 1.0]))
    wandb.log(row)
wandb.log({"late": 7}, step=%(steps)d + 10)
print("hello from wandb")
print("to stderr", file=sys.stderr)
run.summary["best"] = 0.99
open("model.txt", "w").write("weights")
wandb.save("model.txt", policy="now")
run.finish(exit_code=%(code)d)
"""


def make_offline_run(where: Path, code: int = 0) -> Path:
    """A wandb offline run directory made by the real wandb, in a subprocess."""
    where.mkdir(parents=True)
    (where / "train.py").write_text(SCRIPT % {"steps": STEPS, "code": code})
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_DIR=str(where), WANDB_SILENT="true",
               WANDB_DISABLE_GIT="true", WANDB_CONSOLE="wrap")
    env.pop("PYTHONPATH", None)  # the real wandb, never runwal's shim
    proc = subprocess.run([sys.executable, "train.py"], cwd=where, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (where / "wandb").glob("offline-run-*")
    return run_dir


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_offline_run(tmp_path_factory.mktemp("wb") / "ok")


def imp(*args: str) -> Any:
    result = CliRunner().invoke(main, ["import", "wandb", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def only(result: Any) -> dict[str, Any]:
    (r,) = json.loads(result.stdout)["runs"]
    return r  # type: ignore[no-any-return]


def test_offline_run_imported_point_by_point(offline_run: Path, tmp_path: Path) -> None:
    res = imp(str(offline_run), "--into", str(tmp_path / "runs"), "--json")
    assert res.exit_code == 0, res.output
    r = only(res)
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
    assert "sample" not in summary and not any(k.startswith("sample/") for k in summary)
    assert of_kind(records, "exit") == [{"code": 0, "status": "finished",
                                         "runtime": of_kind(records, "exit")[0]["runtime"]}]
    # Again: same run id, nothing written.
    again = only(imp(str(offline_run.parent), "--into", str(tmp_path / "runs"), "--json"))
    assert (again["run_id"], again["status"]) == (r["run_id"], "unchanged")


def test_failed_run_and_damaged_blocks(tmp_path: Path) -> None:
    src = make_offline_run(tmp_path / "failing", code=3)
    (log,) = src.glob("run-*.wandb")
    assert log.stat().st_size > 3 * BLOCK, "the run spans several blocks"
    data = bytearray(log.read_bytes())
    data[BLOCK + 100] ^= 0xFF  # a byte in block 1: its records are lost, the others kept
    log.write_bytes(bytes(data))
    res = imp(str(src), "--into", str(tmp_path / "runs"), "--json")
    assert res.exit_code == 0, res.output
    r = only(res)
    assert r["counts"]["damaged"] >= 1 and "damaged" in r["reason"]
    assert any("damaged bytes at offset" in n for n in r["notes"])
    records = read_clean(r["run_dir"])
    steps = [rec.body["step"] for rec in records if rec.kind == "history"]
    assert 0 < len(steps) < STEPS + 1 and steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == STEPS + 10  # before and after the damage
    assert of_kind(records, "exit")[0]["code"] == 3
    assert of_kind(records, "exit")[0]["status"] == "failed"


def test_not_a_wandb_run(tmp_path: Path) -> None:
    bad = tmp_path / "offline-run-x"
    bad.mkdir()
    (bad / "run-x.wandb").write_bytes(b"not a log at all")
    empty = tmp_path / "empty"
    empty.mkdir()
    res = imp(str(bad), str(empty), "--into", str(tmp_path / "runs"), "--json")
    assert res.exit_code == 1
    reasons = [r["reason"] for r in json.loads(res.stdout)["runs"]]
    assert "no wandb log header" in reasons[0] and "no wandb run here" in reasons[1]


def test_a_live_run_grows_and_is_appended(offline_run: Path, tmp_path: Path) -> None:
    """An import of a run still being written, then of the finished run: only the rest."""
    src = tmp_path / offline_run.name
    shutil.copytree(offline_run, src)
    (log,) = src.glob("run-*.wandb")
    whole = log.read_bytes()
    log.write_bytes(whole[: len(whole) // 2])
    first = only(imp(str(src), "--into", str(tmp_path / "runs"), "--json"))
    assert first["status"] == "imported" and 0 < first["points"] < 3 * STEPS
    log.write_bytes(whole)
    second = only(imp(str(src), "--into", str(tmp_path / "runs"), "--json"))
    assert (second["status"], second["run_id"]) == ("appended", first["run_id"])
    records = read_clean(second["run_dir"])
    steps = [rec.body["step"] for rec in records if rec.kind == "history"]
    assert steps == [*range(STEPS), STEPS + 10]
    assert [e["status"] for e in of_kind(records, "exit")] == ["killed", "finished"]


def runwal(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240)


@pytest.mark.timeout(240)
def test_synced_point_by_point_and_once(offline_run: Path, tmp_path: Path,
                                        mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    r = only(imp(str(offline_run), "--into", str(runs), "--json"))
    proc = runwal("sync", str(runs), "--to", mlflow_uri, "--json")
    assert proc.returncode == 0, proc.stderr
    (synced,) = json.loads(proc.stdout)["runs"]
    assert synced["status"] == "synced"
    (server_run,) = runs_tagged(mlflow_uri, "wb-import", r["run_id"])
    assert server_run.info.status == "FINISHED"
    assert server_run.data.params["lr"] == "0.1"
    assert server_run.data.tags.get("mlflow.note.content") == "a note"
    rows = sorted((m.step, m.timestamp, m.value)
                  for m in client(mlflow_uri).get_metric_history(server_run.info.run_id, "loss"))
    expect = sorted((rec.body["step"], round(rec.ts * 1000), rec.body["data"]["loss"])
                    for rec in read_clean(r["run_dir"]) if rec.kind == "history"
                    and "loss" in rec.body["data"])
    assert rows == expect and len(rows) == STEPS
    assert only(imp(str(offline_run), "--into", str(runs), "--json"))["status"] == "unchanged"
    proc = runwal("sync", str(runs), "--to", mlflow_uri, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [(x["status"], x["points"]) for x in json.loads(proc.stdout)["runs"]] == [
        ("skipped", 0)]
