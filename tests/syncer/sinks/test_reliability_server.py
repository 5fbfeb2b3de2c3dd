"""Exactly once on the server when answers are lost: a real MLflow server behind
a real TCP proxy (tests/faultproxy.py) that applies a request and then drops the
connection (or cuts the answer), for every kind of request the syncer sends;
and syncers killed with SIGKILL at the worst moments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faultproxy import FaultProxy, Rules, always_pass
from syncutil import (
    T0,
    R,
    append_segment,
    artifact,
    client,
    runs_tagged,
    training_records,
    write_run,
)

STEPS = 120


def sync_cmd(run: Path, uri: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "syncer.cli", "sync", str(run), "--to", uri, *extra]


def runwal_sync(run: Path, uri: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sync_cmd(run, uri, *extra), capture_output=True, text=True,
                          timeout=120)


def checkpoint_of(run: Path) -> dict[str, Any]:
    (path,) = (run / "sync").glob("*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def assert_exactly_once(uri: str, project: str, run_id: str, steps: int = STEPS) -> Any:
    runs = runs_tagged(uri, project, run_id)
    assert len(runs) == 1, f"{len(runs)} server runs carry runwal.run_id={run_id}"
    run = runs[0]
    assert run.info.status == "FINISHED"
    c = client(uri)
    for key in ("loss", "acc"):
        hist = c.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in hist) == list(range(steps)), key
    return run


LOST = [  # (request, which one of its kind, fault): applied on the server, answer lost
    ("experiments/create", 1, "drop"),
    ("experiments/create", 1, "truncate"),
    ("runs/search", 1, "drop"),
    ("runs/create", 1, "drop"),
    ("runs/create", 1, "truncate"),
    ("runs/create", 1, "status:502"),  # a gateway's answer: applied or not, nobody knows
    ("runs/log-batch", 1, "drop"),  # params, tags and metrics in one: params re-sent as they are
    ("runs/log-batch", 1, "truncate"),
    ("mlflow-artifacts", 1, "drop"),  # files/notes.txt
    ("mlflow-artifacts", 2, "drop"),  # output.log
    ("runs/update", 1, "drop"),  # the final status and end time
]


@pytest.mark.parametrize(("request_kind", "nth", "fault"), LOST,
                         ids=[f"{k}#{n}-{f}" for k, n, f in LOST])
def test_a_lost_answer_never_duplicates_nor_strands_the_run(
    tmp_path: Path, mlflow_uri: str, request_kind: str, nth: int, fault: str
) -> None:
    tag = "".join(c for c in f"{request_kind}{nth}{fault}" if c.isalnum())
    run_id = f"lost{tag}"[:40]
    project = f"rel-{run_id}"
    recs = training_records(STEPS)
    recs.insert(-1, (R.CONSOLE, recs[-1][1], {"stream": "stdout", "text": "epoch done\n"}))
    recs.insert(-1, (R.FILE, recs[-1][1], {"path": "notes.txt", "size": 5}))
    rd = write_run(tmp_path, run_id, recs, project=project)
    (rd / "files" / "notes.txt").write_text("hello")
    with FaultProxy(mlflow_uri, Rules.nth(request_kind, nth, fault)) as proxy:
        first = runwal_sync(rd, proxy.uri)
        faulted = [entry for entry in proxy.log if entry[3] != "pass"]
        assert len(faulted) == 1 and request_kind in faulted[0][2], proxy.log
        assert first.returncode == 0, first.stderr
        run = assert_exactly_once(mlflow_uri, project, run_id)
        proxy.rule = always_pass  # the same destination (checkpoint), healthy now
        again = runwal_sync(rd, proxy.uri)
    assert again.returncode == 0, again.stderr
    run = assert_exactly_once(mlflow_uri, project, run_id)
    assert run.data.params == {"lr": "0.1", "opt/name": "sgd"}
    assert run.data.tags["mlflow.source.git.commit"] == "abc123"
    assert run.info.end_time == round((T0 + 0.01 * (STEPS + 2)) * 1000)
    assert artifact(mlflow_uri, run.info.run_id, "notes.txt") == b"hello"
    assert artifact(mlflow_uri, run.info.run_id, "output.log") == b"epoch done\n"


RESUMED = [("runs/get", 1, "drop"), ("runs/log-batch", 1, "drop"), ("runs/update", 1, "drop"),
           ("runs/log-batch", 1, "truncate")]


@pytest.mark.parametrize(("request_kind", "nth", "fault"), RESUMED,
                         ids=[f"{k}#{n}-{f}" for k, n, f in RESUMED])
def test_a_lost_answer_in_a_later_pass_of_a_live_run(
    tmp_path: Path, mlflow_uri: str, request_kind: str, nth: int, fault: str
) -> None:
    """The first pass leaves the run RUNNING; the faults hit the pass that continues it."""
    run_id = "live" + "".join(c for c in f"{request_kind}{fault}" if c.isalnum())[:30]
    project = f"rel-{run_id}"
    recs = training_records(STEPS)
    half = 2 + STEPS // 2
    rd = write_run(tmp_path, run_id, recs[:half], project=project)
    with FaultProxy(mlflow_uri) as proxy:
        assert runwal_sync(rd, proxy.uri).returncode == 0
        assert runs_tagged(mlflow_uri, project, run_id)[0].info.status == "RUNNING"
        append_segment(rd, recs[half:], base_seq=half)
        proxy.rule = Rules.nth(request_kind, nth, fault)
        second = runwal_sync(rd, proxy.uri)
        assert second.returncode == 0, second.stderr
        assert proxy.done[fault.split(":")[0]] == 1, proxy.log
    assert_exactly_once(mlflow_uri, project, run_id)


def test_a_run_whose_final_update_never_got_through_is_finished_by_the_next_sync(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """The EXIT record shares its frame with the last history rows: the batch before
    it is acknowledged, then every runs/update fails until the syncer gives up."""
    run_id, project = "strand01", "rel-strand"
    rd = write_run(tmp_path, run_id, training_records(STEPS), project=project)
    with FaultProxy(mlflow_uri, Rules.first("runs/update", "status:503", times=10**6)) as proxy:
        cut = runwal_sync(rd, proxy.uri, "--deadline", "1")
        assert proxy.done["status"] >= 1
        assert cut.returncode == 1, cut.stdout
        assert runs_tagged(mlflow_uri, project, run_id)[0].info.status == "RUNNING"
        proxy.rule = always_pass
        healed = runwal_sync(rd, proxy.uri)
    assert healed.returncode == 0, healed.stderr
    assert_exactly_once(mlflow_uri, project, run_id)


def test_a_syncer_killed_at_the_final_update_leaves_a_run_the_next_sync_finishes(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """kill -9 the moment runs/update arrives: the batch before the EXIT is on the
    server and checkpointed, the EXIT is not; a healthy sync to the same URI (the
    same checkpoint) must read the EXIT again."""
    run_id, project = "strand02", "rel-strand"
    rd = write_run(tmp_path, run_id, training_records(STEPS), project=project)
    box: dict[str, subprocess.Popen[bytes]] = {}

    def kill() -> None:
        box["proc"].kill()
        box["proc"].wait()

    with FaultProxy(mlflow_uri, Rules.hook("runs/update", kill, "reset")) as proxy:
        box["proc"] = subprocess.Popen(sync_cmd(rd, proxy.uri), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        assert box["proc"].wait(timeout=120) == -9
        ckpt = checkpoint_of(rd)
        assert ckpt["seq"] == STEPS + 1 and not ckpt["finished"]  # EXIT is seq STEPS + 2
        assert runs_tagged(mlflow_uri, project, run_id)[0].info.status == "RUNNING"
        proxy.rule = always_pass
        healed = runwal_sync(rd, proxy.uri)
    assert healed.returncode == 0, healed.stderr
    assert_exactly_once(mlflow_uri, project, run_id)
    assert checkpoint_of(rd)["finished"]


def test_every_runs_create_answer_lost_still_makes_one_run(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """Three creates in a row applied and unanswered, and a search answer lost too."""
    run_id, project = "lostmany", "rel-lostmany"
    rd = write_run(tmp_path, run_id, training_records(STEPS), project=project)

    def rule(n: int, method: str, path: str) -> str:
        return first_creates(n, method, path) if "runs/create" in path else searches(n, method,
                                                                                     path)

    first_creates = Rules.first("runs/create", "drop", times=3)
    searches = Rules.nth("runs/search", 2, "drop")
    with FaultProxy(mlflow_uri, rule) as proxy:
        res = runwal_sync(rd, proxy.uri)
        assert proxy.done["drop"] >= 2, proxy.log
    assert res.returncode == 0, res.stderr
    assert_exactly_once(mlflow_uri, project, run_id)


def test_a_syncer_killed_every_few_requests_still_moves_its_checkpoint(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """Each syncer is killed at its 12th log-batch request, before one 20k-point batch
    could be acknowledged; the checkpoint must still advance every time, in order,
    and the server end with every point once."""
    steps = 10_000  # 20k points
    run_id, project = "killloop", "rel-killloop"
    rd = write_run(tmp_path, run_id, training_records(steps), project=project)
    box: dict[str, subprocess.Popen[bytes]] = {}

    def kill() -> None:
        box["proc"].kill()
        box["proc"].wait()

    seqs = [-1]
    with FaultProxy(mlflow_uri) as proxy:
        for _ in range(12):
            proxy.rule = Rules.hook("runs/log-batch", kill, "reset", k=12)
            box["proc"] = subprocess.Popen(sync_cmd(rd, proxy.uri), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
            if box["proc"].wait(timeout=120) == 0:
                break
            seq = checkpoint_of(rd)["seq"]
            assert seq > seqs[-1], f"killed without progress: checkpoints {[*seqs, seq]}"
            seqs.append(seq)
        else:
            pytest.fail(f"never finished: checkpoints {seqs}")
    assert len(seqs) >= 2, "no syncer was killed: the test proves nothing"
    assert_exactly_once(mlflow_uri, project, run_id, steps)
