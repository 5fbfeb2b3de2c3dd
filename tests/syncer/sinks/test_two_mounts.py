"""Exactly once when no lock is shared: two syncers that both create the server run.

A run directory read through two mounts of one network filesystem (Lustre with
localflock, NFS, FUSE) gives each syncer its own flock, so two `runwal sync`s can
both look the run up, find nothing and create it. runs.py settles it by one rule
(the oldest active run tagged with the id is kept): a creator that is not kept
moves its run to the trash and sends everything again into the one kept.

Here: the race forced at its narrowest point (a twin made after our creator's first
look), a checkpoint that names a trashed copy, and the real thing, two syncers on
two FUSE mounts of one directory (tests/powercutfs.py as a plain passthrough,
whose flock is local to each mount as on those filesystems).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from powercut import needs_fuse, powercut_mount
from runbuilder import T0, append_segment, write_run
from schema.records import RecordType
from syncer.sinks.mlflow import runs
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncutil import client, run_with, runs_tagged, training_records


def _make_twin(uri: str, project: str, run_id: str, start_ms: int) -> str:
    """Another syncer's copy of ``run_id``, created first: the one kept."""
    c = client(uri)
    exp = c.get_experiment_by_name(project)
    twin = c.create_run(exp.experiment_id, start_time=start_ms,
                        tags={runs.RUN_ID_TAG: run_id, runs.CREATED_TAG: "1"}, run_name=run_id)
    return str(twin.info.run_id)


def _one_run_with_every_row(uri: str, project: str, run_id: str, steps: int) -> Any:
    (run,) = runs_tagged(uri, project, run_id)  # active runs only
    history = client(uri).get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(steps)), "rows missing or twice"
    return run


def test_the_second_creator_steps_aside_before_it_sends(
    tmp_path: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our look found nothing, then another syncer created the run, then we did: we see
    two, ours is the younger, so ours goes to the trash and everything goes to theirs."""
    rd = write_run(tmp_path, "late-twin", training_records(300), project="twins")
    real_find = runs.find_run
    made: list[str] = []

    def find_then_twin(rest: MlflowRest, exp_id: str, run_id: str) -> Any:
        found = real_find(rest, exp_id, run_id)
        if not made:  # the other syncer creates right after our first look
            made.append(_make_twin(mlflow_uri, "twins", run_id, round(T0 * 1000)))
        return found

    monkeypatch.setattr(runs, "find_run", find_then_twin)
    result = run_with(rd, mlflow_uri)
    assert result.status == "synced", result.reason
    run = _one_run_with_every_row(mlflow_uri, "twins", "late-twin", 300)
    assert run.info.run_id == made[0] == result.server_run_id
    assert run.info.status == "FINISHED"
    trashed = [r for r in client(mlflow_uri).search_runs(
        [run.info.experiment_id], "tags.`runwal.run_id` = 'late-twin'", run_view_type=2)]
    assert len(trashed) == 1 and trashed[0].info.run_id != run.info.run_id
    assert int(trashed[0].data.tags[runs.CREATED_TAG]) > 1  # ours, stamped at its create


def test_a_copy_seen_before_its_stamp_counts_as_the_youngest(
    tmp_path: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our look sees the other syncer's copy before its creator stamped it: we keep ours
    (the other has yet to look). When the other stamps and looks, ours is the older
    one, so it steps aside: one run, ours, with every row."""
    rd = write_run(tmp_path, "unstamped", training_records(300), project="twins")
    real_settle = runs.settle
    other: list[str] = []

    def twin_then_settle(rest: MlflowRest, exp_id: str, run_id: str, mine: str) -> Any:
        if not other:  # created after ours, not stamped yet when we look
            twin = client(mlflow_uri).create_run(
                exp_id, start_time=round(T0 * 1000), tags={runs.RUN_ID_TAG: run_id})
            other.append(str(twin.info.run_id))
        return real_settle(rest, exp_id, run_id, mine)

    monkeypatch.setattr(runs, "settle", twin_then_settle)
    result = run_with(rd, mlflow_uri)
    assert result.status == "synced", result.reason
    assert result.server_run_id != other[0]
    with build_client() as http:  # the other creator now stamps, looks, steps aside
        rest = MlflowRest(mlflow_uri, http)
        rest.set_tag(other[0], runs.CREATED_TAG, str(time.time_ns()))
        exp_id = client(mlflow_uri).get_experiment_by_name("twins").experiment_id
        kept = real_settle(rest, exp_id, "unstamped", other[0])
    assert kept is not None and runs.server_run_id(kept) == result.server_run_id
    run = _one_run_with_every_row(mlflow_uri, "twins", "unstamped", 300)
    assert run.info.run_id == result.server_run_id


def test_a_checkpoint_naming_a_trashed_copy_moves_to_the_one_kept(
    tmp_path: Path, mlflow_uri: str
) -> None:
    recs = training_records(200, status=None)
    rd = write_run(tmp_path, "moved", recs, project="twins")
    first = run_with(rd, mlflow_uri)
    assert first.status == "partial" and first.reason == "not finished", first.reason
    start = int(client(mlflow_uri).get_run(first.server_run_id).info.start_time)
    twin = _make_twin(mlflow_uri, "twins", "moved", start)  # kept: created "first"
    with build_client() as http:
        MlflowRest(mlflow_uri, http).delete_run(first.server_run_id)
    append_segment(rd, [(int(RecordType.HISTORY), 1e9 + 5000 + i,
                         {"step": 200 + i, "data": {"loss": 1.0 / (i + 1)}})
                        for i in range(50)], base_seq=len(recs))
    again = run_with(rd, mlflow_uri)
    assert again.status == "partial" and again.reason == "not finished", again.reason
    assert again.server_run_id == twin
    _one_run_with_every_row(mlflow_uri, "twins", "moved", 250)


@needs_fuse
def test_two_syncers_through_two_mounts_make_one_run(tmp_path: Path, mlflow_uri: str) -> None:
    """The issue's case: a run dir on one filesystem, two mounts of it, two `runwal sync`
    started at once, one through each; flock keeps nobody out. Three rounds."""
    with powercut_mount(tmp_path / "a") as one, \
            powercut_mount(tmp_path / "b", backing=tmp_path / "a" / "backing") as two:
        for rnd in range(3):
            run_id = f"mounts{rnd}"
            write_run(one.mount / "runs", run_id, training_records(3000), project="mounts")
            procs = [subprocess.Popen(
                [sys.executable, "-m", "syncer.cli", "sync", str(m / "runs" / run_id),
                 "--to", mlflow_uri, "--json"], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True) for m in (one.mount, two.mount)]
            outs = [p.communicate(timeout=240) for p in procs]
            for p, (out, err) in zip(procs, outs, strict=True):
                assert p.returncode == 0, (out, err)
                assert json.loads(out)["runs"][0]["status"] in ("synced", "skipped", "busy"), out
            run = _one_run_with_every_row(mlflow_uri, "mounts", run_id, 3000)
            assert run.info.status == "FINISHED"
        one.cut()
        two.cut()
