"""``runwal import wandb``, the command (the SDK's importer runs as its process): an offline
run written here by the real wandb (pinned 0.31.0), imported, synced to the real server
point by point and once. What the importer writes, point by point:
tests/logwriter/importers/test_importer_wandb.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from importsources import WANDB_STEPS as STEPS
from importsources import make_offline_run, not_wandb_runs
from logwriter_util import read_clean
from syncer.cli.main import main
from syncutil import client, runs_tagged

pytest.importorskip("wandb.proto.wandb_internal_pb2")

RUNWAL = Path(sys.executable).with_name("runwal")


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


def runwal(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240)


def test_not_a_wandb_run_is_a_failed_row(tmp_path: Path) -> None:
    bad, empty = not_wandb_runs(tmp_path)
    res = imp(str(bad), str(empty), "--into", str(tmp_path / "runs"))
    assert res.exit_code == 1
    header, *rows = res.stdout.splitlines()
    assert header.split()[:2] == ["RUN", "STATUS"] and len(rows) == 2
    assert "failed" in rows[0] and "no wandb log header" in rows[0]
    assert "failed" in rows[1] and "no wandb run here" in rows[1]


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


def test_latest_run_symlink_and_the_run_itself_are_one_source(offline_run: Path,
                                                               tmp_path: Path) -> None:
    """`runwal import wandb wandb/latest-run wandb/offline-run-*` (what a shell glob of
    wandb/* gives): wandb's own latest-run link is the same run, imported once."""
    latest = offline_run.parent / "latest-run"
    assert latest.is_symlink() and latest.resolve() == offline_run.resolve()
    res = imp(str(latest), str(offline_run), "--into", str(tmp_path / "runs"), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["runs"]
    assert row["status"] == "imported"
    assert len(list((tmp_path / "runs").iterdir())) == 1
