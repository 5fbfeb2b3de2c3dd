"""Exactly once on the server when answers are lost: a real MLflow server behind
a real TCP proxy (tests/faultproxy.py) that applies a request and then drops the
connection, for every kind of request the syncer sends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from faultproxy import FaultProxy, Rules, always_pass
from syncutil import R, client, runs_tagged, training_records, write_run

STEPS = 120


def runwal_sync(run: Path, uri: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(run), "--to", uri],
                          capture_output=True, text=True, timeout=120)


def assert_exactly_once(uri: str, project: str, run_id: str) -> None:
    runs = runs_tagged(uri, project, run_id)
    assert len(runs) == 1, f"{len(runs)} server runs carry runwal.run_id={run_id}"
    run = runs[0]
    assert run.info.status == "FINISHED"
    c = client(uri)
    for key in ("loss", "acc"):
        hist = c.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in hist) == list(range(STEPS)), key


@pytest.mark.parametrize("request_kind", [
    "experiments/create", "runs/create", "runs/log-batch", "runs/update", "mlflow-artifacts",
])
def test_a_lost_answer_never_duplicates_nor_strands_the_run(
    tmp_path: Path, mlflow_uri: str, request_kind: str
) -> None:
    run_id = "lost" + "".join(c for c in request_kind if c.isalnum())[:12]
    project = f"rel-{run_id}"
    recs = training_records(STEPS)
    recs.insert(-1, (R.CONSOLE, recs[-1][1], {"stream": "stdout", "text": "epoch done\n"}))
    rd = write_run(tmp_path, run_id, recs, project=project)
    (rd / "files" / "notes.txt").write_text("hello")
    with FaultProxy(mlflow_uri, Rules.first(request_kind, "drop")) as proxy:
        first = runwal_sync(rd, proxy.uri)
        assert proxy.done["drop"] == 1, proxy.log
        assert first.returncode == 0, first.stderr
        assert_exactly_once(mlflow_uri, project, run_id)
        proxy.rule = always_pass  # the same destination (checkpoint), healthy now
        again = runwal_sync(rd, proxy.uri)
    assert again.returncode == 0, again.stderr
    assert_exactly_once(mlflow_uri, project, run_id)


def test_a_run_whose_final_update_never_got_through_is_finished_by_the_next_sync(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """The EXIT record shares its frame with the last history rows: the batch before
    it is acknowledged, then every runs/update fails until the syncer gives up."""
    run_id, project = "strand01", "rel-strand"
    rd = write_run(tmp_path, run_id, training_records(STEPS), project=project)
    with FaultProxy(mlflow_uri, Rules.first("runs/update", "status:503", times=10**6)) as proxy:
        cut = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(rd), "--to",
                              proxy.uri, "--deadline", "1"],
                             capture_output=True, text=True, timeout=120)
        assert proxy.done["status"] >= 1
        assert cut.returncode == 1, cut.stdout
        assert runs_tagged(mlflow_uri, project, run_id)[0].info.status == "RUNNING"
        proxy.rule = always_pass
        healed = runwal_sync(rd, proxy.uri)
    assert healed.returncode == 0, healed.stderr
    assert_exactly_once(mlflow_uri, project, run_id)
