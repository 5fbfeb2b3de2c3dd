"""Replaying run directories to the real MLflow server: exactly once."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from corruption import Damage, frame_spans
from runbuilder import build_run, segment_path, typical_records
from schema.layout import RunDir
from syncer.cli import main
from syncer.engine import checkpoint
from syncer.engine.replay import sync_run
from syncer.engine.result import SyncResult
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.sink import MlflowSink, sink_name_for
from syncutil import (
    T0,
    R,
    append_segment,
    artifact,
    artifact_names,
    client,
    runs_tagged,
    training_records,
    write_run,
)


@pytest.fixture
def rest(mlflow_uri: str) -> Iterator[MlflowRest]:
    with build_client() as http:
        yield MlflowRest(mlflow_uri, http)


def sync(rd: Path, rest: MlflowRest) -> SyncResult:
    sink = MlflowSink(rest)
    try:
        return sync_run(rd, sink)
    finally:
        sink.close()


def history(uri: str, run_id: str, key: str) -> list[tuple[int, int, float]]:
    rows = client(uri).get_metric_history(run_id, key)
    return sorted((m.step, m.timestamp, m.value) for m in rows)


def test_end_to_end_exact(tmp_path: Path, rest: MlflowRest, mlflow_uri: str) -> None:
    recs = training_records(1500, ("loss", "acc"))
    recs[2:2] = [
        (R.STATS, T0 + 0.002, {"cpu_utilization_percentage": 12.5}),
        (R.STATS, T0 + 0.003, {"cpu_utilization_percentage": 14.0}),
        (R.CONSOLE, T0 + 0.004, {"stream": "stdout", "text": "epoch 1\n"}),
        (
            R.FILE,
            T0 + 0.005,
            {"path": "model/weights.txt", "size": 5, "sha256": "", "policy": "now"},
        ),
        (
            R.HISTORY,
            T0 + 0.006,
            {
                "step": 10**6,
                "data": {"odd": math.nan, "up": math.inf, "flag": True, "txt": "hi", "none": None},
            },
        ),
        (99, T0 + 0.008, {"future": 1}),
        (R.CONSOLE, T0 + 0.009, {"stream": "stderr", "text": "done\n"}),
    ]
    recs.insert(-1, (R.SUMMARY, T0 + 50, {"best": 0.9, "loss": 0.1, "name": "x"}))
    rd = write_run(tmp_path, "e2e00001", recs, project="p-e2e", name="nice name")
    (rd / "files" / "model").mkdir()
    (rd / "files" / "model" / "weights.txt").write_text("12345")

    res = sync(rd, rest)
    assert res.status == "synced" and res.finished, res
    assert "1 unknown record(s) skipped" in res.reason
    assert res.unknown == 1 and res.values_skipped == 2 and not res.rejected
    c = client(mlflow_uri)
    run = c.get_run(res.server_run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "nice name"
    assert run.info.start_time == round(T0 * 1000)
    assert run.info.end_time == round(recs[-1][1] * 1000)
    assert run.data.params == {"lr": "0.1", "opt/name": "sgd"}
    tags = run.data.tags
    assert tags["runwal.run_id"] == "e2e00001"
    assert tags["mlflow.source.git.commit"] == "abc123"
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/r.git"
    assert tags["mlflow.note.content"] == "a note"
    assert tags["mlflow.user"] == "alice" and tags["mlflow.source.name"] == "train.py"
    assert tags["baseline"] == "true"
    assert tags["runwal.group"] == "g1" and tags["runwal.job_type"] == "train"
    assert tags["summary.best"] == "0.9" and tags["summary.name"] == "x"

    loss = history(mlflow_uri, res.server_run_id, "loss")
    assert [s for s, _, _ in loss] == list(range(1500))
    assert [t for _, t, _ in loss] == [round((T0 + 0.01 * (s + 1)) * 1000) for s in range(1500)]
    assert len(history(mlflow_uri, res.server_run_id, "acc")) == 1500
    odd = history(mlflow_uri, res.server_run_id, "odd")
    assert len(odd) == 1 and odd[0][0] == 10**6 and math.isnan(odd[0][2])
    assert history(mlflow_uri, res.server_run_id, "up")[0][2] > 1e308
    assert history(mlflow_uri, res.server_run_id, "flag")[0][2] == 1.0
    # summary: "best" never a history key -> a metric; "loss" is -> no extra row
    assert len(history(mlflow_uri, res.server_run_id, "best")) == 1
    cpu = history(mlflow_uri, res.server_run_id, "system/cpu_utilization_percentage")
    assert [(s, v) for s, _, v in cpu] == [(0, 12.5), (1, 14.0)]

    assert {"output.log", "model"} <= artifact_names(mlflow_uri, res.server_run_id)
    assert artifact(mlflow_uri, res.server_run_id, "output.log") == b"epoch 1\ndone\n"
    assert artifact(mlflow_uri, res.server_run_id, "model/weights.txt") == b"12345"

    # Checkpoint: no credentials, seq of the EXIT record.
    ck = checkpoint.load(RunDir(rd), sink_name_for(mlflow_uri))
    assert ck is not None and ck.finished and ck.seq == len(recs) - 1

    # Re-sync: skipped fast, nothing added.
    again = sync(rd, rest)
    assert again.status == "skipped" and again.points == 0
    assert len(history(mlflow_uri, res.server_run_id, "loss")) == 1500

    # Lost checkpoint: same run found by tag, nothing duplicated.
    shutil.rmtree(rd / "sync")
    lost = sync(rd, rest)
    assert lost.server_run_id == res.server_run_id
    assert len(runs_tagged(mlflow_uri, "p-e2e", "e2e00001")) == 1
    assert history(mlflow_uri, res.server_run_id, "loss") == loss
    assert len(history(mlflow_uri, res.server_run_id, "best")) == 1
    assert len(history(mlflow_uri, res.server_run_id, "system/cpu_utilization_percentage")) == 2
    assert artifact(mlflow_uri, res.server_run_id, "output.log") == b"epoch 1\ndone\n"
    assert c.get_run(res.server_run_id).info.status == "FINISHED"


def test_live_run_left_running_then_continued(
    tmp_path: Path, rest: MlflowRest, mlflow_uri: str
) -> None:
    recs = training_records(300, status=None)
    recs.append((R.CONSOLE, T0 + 5, {"stream": "stdout", "text": "part one\n"}))
    rd = write_run(tmp_path, "live0001", recs, project="p-live")
    # a torn tail: half of a frame appended by a writer still at work
    seg = next((rd / "log").iterdir())
    seg.write_bytes(seg.read_bytes() + b"\x10\x00\x00\x00\x00")
    first = sync(rd, rest)
    assert first.status == "partial" and "not finished" in first.reason
    c = client(mlflow_uri)
    assert c.get_run(first.server_run_id).info.status == "RUNNING"
    assert len(history(mlflow_uri, first.server_run_id, "loss")) == 300

    more: list[tuple[int, float, object]] = [
        (R.RESUME, T0 + 9, {"pid": 2, "host": "h2"}),
        (R.CONFIG, T0 + 9.1, {"lr": 0.01}),  # changed value: tag + config.json, no failure
        (R.CONSOLE, T0 + 9.2, {"stream": "stdout", "text": "part two\n"}),
    ]
    more += [(R.HISTORY, T0 + 10 + s, {"step": 300 + s, "data": {"loss": 1.0}}) for s in range(50)]
    more.append((R.EXIT, T0 + 100, {"code": 1, "status": "failed", "runtime": 99}))
    append_segment(rd, more, base_seq=len(recs))
    second = sync(rd, rest)
    assert second.server_run_id == first.server_run_id
    assert second.status == "synced" and second.finished, second
    assert any("torn tail" in n for n in second.notes)
    run = c.get_run(first.server_run_id)
    assert run.info.status == "FAILED" and run.info.end_time == round((T0 + 100) * 1000)
    assert run.data.params["lr"] == "0.1" and run.data.tags["config.lr"] == "0.01"
    loss = history(mlflow_uri, first.server_run_id, "loss")
    assert [s for s, _, _ in loss] == list(range(350))
    cfg = artifact(mlflow_uri, first.server_run_id, "config.json")
    assert json.loads(cfg) == {"lr": 0.01, "opt/name": "sgd"}
    log = artifact(mlflow_uri, first.server_run_id, "output.log")
    assert log == b"part one\npart two\n"


def test_a_param_value_mlflow_cuts_reaches_the_server_whole_in_config_json(
    tmp_path: Path, rest: MlflowRest, mlflow_uri: str
) -> None:
    long = "".join(chr(ord("a") + i % 26) for i in range(10_000))
    recs = training_records(3, config={"lr": 0.1, "prompt": long})
    rd = write_run(tmp_path, "longprm1", recs, project="p-long")
    res = sync(rd, rest)
    assert res.status == "synced", res
    run = client(mlflow_uri).get_run(res.server_run_id)
    assert run.data.params["prompt"] == long[:6000]
    assert run.data.params["lr"] == "0.1"
    assert run.data.tags["runwal.truncated_params"] == "prompt"
    cfg = json.loads(artifact(mlflow_uri, res.server_run_id, "config.json"))
    assert cfg == {"lr": 0.1, "prompt": long}


def test_damage_to_the_end_of_a_segment_is_one_loss_worded_as_verify_words_it(
    tmp_path: Path, rest: MlflowRest, mlflow_uri: str
) -> None:
    recs = typical_records(40)
    run = build_run(tmp_path, recs, run_id="tailcut1", segment_starts=[24], records_per_frame=2)
    seg = segment_path(run, 0)
    spans = frame_spans(seg.read_bytes())
    for span in spans[-2:]:  # the last two frames: no good frame after them in the segment
        Damage("flip", span.offset + span.size // 2).apply_to_file(seg)
    lost = range(spans[-2].base_seq, 24)
    verified = CliRunner().invoke(main, ["verify", str(run), "--json"])
    (dmg,) = json.loads(verified.stdout)["damage"]
    assert (dmg["first_lost"], dmg["last_lost"]) == (lost[0], lost[-1])
    text = CliRunner().invoke(main, ["verify", str(run)]).stdout
    (line,) = [ln.removeprefix("damage: ") for ln in text.splitlines() if ln.startswith("damage:")]
    res = sync(run, rest)
    assert res.status == "partial" and res.damaged == 1, res
    assert [n for n in res.notes if "lost" in n] == [line]
    assert f"lost seqs {lost[0]}..{lost[-1]} ({len(lost)} records)" in line
    steps = {s for s, _, _ in history(mlflow_uri, res.server_run_id, "loss")}
    assert steps == set(range(40)) - {q - 3 for q in lost}  # history step i is seq 3 + i


def test_corrupt_frame_skipped_and_reported(
    tmp_path: Path, rest: MlflowRest, mlflow_uri: str
) -> None:
    rd = write_run(tmp_path, "crpt0001", training_records(6000, ("a", "b", "c")), project="p-c")
    seg = next((rd / "log").iterdir())
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0xFF
    seg.write_bytes(bytes(data))
    res = sync(rd, rest)
    assert res.status == "partial" and res.damaged == 1 and res.finished
    assert any("lost seqs" in n for n in res.notes)
    got = len(history(mlflow_uri, res.server_run_id, "a"))
    assert 0 < got < 6000


def test_logwriter_sdk_to_server(tmp_path: Path, rest: MlflowRest, mlflow_uri: str) -> None:
    logwriter = pytest.importorskip("logwriter")
    run = logwriter.init(
        project="p-sdk",
        name="sdk run",
        config={"lr": 0.5, "depth": 3},
        dir=tmp_path,
        stats_interval=0,
        capture_console=False,
    )
    for step in range(200):
        logwriter.log({"loss": 1.0 / (step + 1), "acc": step / 200})
    logwriter.finish()
    rd = tmp_path / run.id
    res = sync(rd, rest)
    assert res.finished and not res.rejected, res
    r = client(mlflow_uri).get_run(res.server_run_id)
    assert r.info.status == "FINISHED" and r.info.run_name == "sdk run"
    assert r.data.params == {"lr": "0.5", "depth": "3"}
    assert [s for s, _, _ in history(mlflow_uri, res.server_run_id, "loss")] == list(range(200))
