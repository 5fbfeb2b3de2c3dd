"""A shared run (every process of a job writing one run) against a real MLflow server:
one server run, every stream's points exactly once, the status from the primary.

The processes are real (tests/shared_child.py: RANK and WORLD_SIZE set as a
launcher would); the framework jobs under torchrun are in
tests/logwriter/integrations/test_shared_torchrun.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncutil import client, runs_tagged

CHILD = str(Path(__file__).resolve().parents[2] / "shared_child.py")
STEPS = 40


def job(runs: Path, run_id: str, ends: dict[int, str], world: int = 3, *extra: str
        ) -> dict[int, subprocess.CompletedProcess[str]]:
    """Run ranks 0..world-1 at once, rank r ending as ``ends.get(r, "finish")``."""
    procs = {r: subprocess.Popen([sys.executable, CHILD, str(runs), run_id, str(r), str(world),
                                  str(STEPS), ends.get(r, "finish"), *extra],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(world)}
    out = {}
    for r, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[r] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def sync(runs: Path, uri: str, run_id: str) -> dict[str, Any]:
    """``runwal sync RUNS``'s result for ``run_id``."""
    proc = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(runs), "--to", uri,
                           "--json"], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    (res,) = [r for r in json.loads(proc.stdout)["runs"] if r["run_id"] == run_id]
    return res


def history_len(uri: str, server_run_id: str, key: str) -> int:
    return len(client(uri).get_metric_history(server_run_id, key))


def test_a_shared_run_is_one_server_run_with_every_stream_exactly_once(
        tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    done = job(runs, "shjob1", {})
    assert all(p.returncode == 0 for p in done.values()), {r: p.stderr for r, p in done.items()}
    res = sync(runs, mlflow_uri, "shjob1")
    assert res["status"] == "synced" and res["finished"], res
    assert set(res["streams"]) == {"rank_1", "rank_2"}
    (run,) = runs_tagged(mlflow_uri, "shared", "shjob1")
    rid = run.info.run_id
    assert run.info.status == "FINISHED"
    for key in ("loss", "rank_1/loss", "rank_2/loss"):
        assert history_len(mlflow_uri, rid, key) == STEPS, key
    assert {m.value for m in client(mlflow_uri).get_metric_history(rid, "rank_2/loss")} == {
        2 + i / 1000 for i in range(STEPS)}
    assert run.data.params["lr"] == "0.1" and run.data.params["rank_1/lr"] == "0.2"
    assert run.data.tags["summary.best"] == "0" and run.data.tags["summary.rank_2/best"] == "2"
    assert run.data.tags["runwal.stream.rank_1.rank"] == "1"
    assert run.data.tags["runwal.stream.rank_2.status"] == "FINISHED"
    names = {a.path for a in client(mlflow_uri).list_artifacts(rid)}
    assert {"output.log", "output.rank_1.log", "output.rank_2.log"} <= names, names
    # again: nothing to send; a stream whose checkpoint was lost is sent again harmlessly
    assert sync(runs, mlflow_uri, "shjob1")["status"] == "skipped"
    for ckpt in (runs / "shjob1" / "streams" / "rank_1" / "sync").glob("*.json"):
        ckpt.unlink()
    again = sync(runs, mlflow_uri, "shjob1")
    assert again["status"] == "synced" and again["streams"]["rank_1"]["records"] > 0, again
    assert history_len(mlflow_uri, rid, "rank_1/loss") == STEPS
    assert len(runs_tagged(mlflow_uri, "shared", "shjob1")) == 1


def test_a_failed_rank_fails_the_run_only_when_the_primary_did_not_finish(
        tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    job(runs, "shfail1", {1: "fail"}, 2)  # the primary finishes: its status stands
    res = sync(runs, mlflow_uri, "shfail1")
    (run,) = runs_tagged(mlflow_uri, "shared", "shfail1")
    assert run.info.status == "FINISHED", res
    assert run.data.tags["runwal.stream.rank_1.status"] == "FAILED"
    job(runs, "shfail2", {0: "kill", 1: "fail"}, 2)  # the primary dies without an EXIT
    res = sync(runs, mlflow_uri, "shfail2")
    (run,) = runs_tagged(mlflow_uri, "shared", "shfail2")
    assert run.info.status == "FAILED", res
    # killed after its rows; the last one was still open (a row is committed by the next
    # step or by finish(), as in wandb), so it died with the process
    assert history_len(mlflow_uri, run.info.run_id, "loss") == STEPS - 1
    job(runs, "shkill", {0: "kill"}, 2)  # the primary dies, the others finish: unfinished
    res = sync(runs, mlflow_uri, "shkill")
    (run,) = runs_tagged(mlflow_uri, "shared", "shkill")
    assert run.info.status == "RUNNING"
    assert res["status"] == "partial" and not res["finished"], res


def test_a_rank_that_starts_after_the_primary_finished_is_added(
        tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    job(runs, "shlate", {}, 2)
    sync(runs, mlflow_uri, "shlate")
    late = subprocess.run([sys.executable, CHILD, str(runs), "shlate", "3", "4", str(STEPS)],
                          capture_output=True, text=True, timeout=120)
    assert late.returncode == 0, late.stderr
    res = sync(runs, mlflow_uri, "shlate")
    assert res["streams"]["rank_3"]["records"] > 0, res
    (run,) = runs_tagged(mlflow_uri, "shared", "shlate")
    assert run.info.status == "FINISHED"
    assert history_len(mlflow_uri, run.info.run_id, "rank_3/loss") == STEPS


def test_two_processes_claiming_one_label_the_second_gets_a_clear_error(
        tmp_path: Path) -> None:
    runs, go = tmp_path / "runs", tmp_path / "go"
    holder = subprocess.Popen([sys.executable, CHILD, str(runs), "shlabel", "1", "2", "5", "hold",
                               f"hold={go}"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        while "holding" not in holder.stdout.readline():
            assert holder.poll() is None
        second = subprocess.run([sys.executable, CHILD, str(runs), "shlabel", "1", "2", "5"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "stream 'rank_1' of shared run shlabel is being written by pid " \
               f"{holder.pid}" in second.stderr, second.stderr
        assert "claim the same label" in second.stderr
    finally:
        go.touch()
        holder.wait(60)
        if holder.stdout is not None:
            holder.stdout.close()
    assert holder.returncode == 0


@pytest.mark.timeout(300)
def test_hybrid_mode_each_process_syncs_its_own_stream_live(
        tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    done = job(runs, "shhybrid", {}, 2, "mode=hybrid", f"server={mlflow_uri}")
    assert all(p.returncode == 0 for p in done.values()), {r: p.stderr for r, p in done.items()}
    (run,) = runs_tagged(mlflow_uri, "shared", "shhybrid")  # no `runwal sync` was run
    assert run.info.status == "FINISHED"
    assert history_len(mlflow_uri, run.info.run_id, "loss") == STEPS
    assert history_len(mlflow_uri, run.info.run_id, "rank_1/loss") == STEPS
