"""Pieces of the syncer on their own: the error tree, retry policy, value mapping,
rejections, checkpoint, follow mode (tailing a run that is still being written)."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from corruption import Damage, frame_spans
from runbuilder import build_run, typical_records
from schema.layout import RunDir
from schema.reader import Frame
from schema.records import Record
from syncer import errors
from syncer.engine import checkpoint
from syncer.engine.cursor import LogCursor, Note
from syncer.engine.replay import sync_run
from syncer.errors import ServerUnavailable
from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.mapping import MapState, Plan, map_record, metric_value
from syncer.sinks.mlflow.rest import MlflowRest, build_client, public_uri
from syncer.sinks.mlflow.retry import RetryPolicy, retry_after, send_with_retry
from syncer.sinks.mlflow.sink import MlflowSink, sink_name_for
from syncutil import T0, R, append_segment, client, training_records, write_run


def _subclasses(cls: type) -> list[type]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _subclasses(sub))]


def test_exit_status_and_retrying_are_decided_by_class() -> None:
    usage = _subclasses(errors.UsageError)
    failures = _subclasses(errors.SyncError)
    assert {c.__name__ for c in usage} >= {
        "NoSuchDir", "NotARun", "BadOption", "ExportError", "NoServerConfigured"}
    assert {c.__name__ for c in failures} >= {
        "ServerUnavailable", "ServerRejected", "AuthFailed", "RunGone", "ArtifactsUnsupported"}
    assert all(c("x").exit_code == 2 for c in usage)
    assert all(c("x").exit_code == 1 for c in failures)
    assert [c.__name__ for c in failures if c("x").retryable] == ["ServerUnavailable", "AnswerLost"]
    exc = errors.RunGone("server run r1 no longer exists")
    assert str(exc).startswith(exc.message + " (hint: ") and exc.message.endswith("exists")
    assert errors.NoSuchDir("no such directory", path="/x").message == "/x: no such directory"


def test_every_syncer_error_is_in_the_one_tree() -> None:
    tree = {c for c in _subclasses(errors.RunwalError)}
    defined = {v for v in vars(errors).values() if isinstance(v, type) and issubclass(
        v, Exception) and v.__module__ == errors.__name__}
    assert defined == tree
    for cls in tree:
        assert cls.__name__ in (errors.__doc__ or ""), cls


def test_the_engine_never_loads_an_http_client() -> None:
    code = ("import sys, syncer.engine.unit, syncer.engine.plan, syncer.daemon.workers, "
            "syncer.follow; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'httpcore') or m.startswith('syncer.sinks.mlflow')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_rejections_say_what_was_refused() -> None:
    assert Rejection(10, Refused.METRIC, "loss", "too long").describe() == (
        "seq 10 metric loss: too long")
    assert Rejection(3, Refused.STEP, "", "bad").describe() == "seq 3 step: bad"
    assert Rejection(-1, Refused.ARTIFACT, "output.log", "no").describe() == (
        "seq -1 output.log: no")


def test_full_jitter_stays_under_the_capped_exponential() -> None:
    pol = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(1)
    for attempt in range(10):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [pol.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # actually uses the range (jitter)


def test_retry_after_is_honoured() -> None:
    slept: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "1.5"}), httpx.Response(200)])
    resp = send_with_retry(
        lambda: next(answers), RetryPolicy(cap=8.0), what="x", sleep=slept.append
    )
    assert resp.status_code == 200 and slept == [1.5]
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None


def test_permanent_4xx_is_returned_not_retried() -> None:
    calls = []

    def do() -> httpx.Response:
        calls.append(1)
        return httpx.Response(400)

    assert send_with_retry(do, RetryPolicy(), what="x").status_code == 400
    assert len(calls) == 1


def test_stop_event_ends_retrying() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ServerUnavailable):
        send_with_retry(lambda: httpx.Response(503), RetryPolicy(), what="x", stop=stop)


def test_metric_values_are_sent_the_way_mlflow_stores_them() -> None:
    assert metric_value(math.nan) == "NaN"
    assert metric_value(math.inf) == "Infinity" and metric_value(-math.inf) == "-Infinity"
    assert metric_value(True) == 1.0 and metric_value(False) == 0.0
    assert metric_value(3) == 3.0
    assert metric_value("text") is None and metric_value(None) is None


def _plan(*records: Record, state: MapState | None = None) -> Plan:
    plan = Plan()
    st = state or MapState()
    for rec in records:
        map_record(plan, rec, st, {})
    return plan


def test_bad_steps_are_rejected_with_a_reason() -> None:
    plan = _plan(
        Record(0, R.HISTORY, T0, {"step": 2**63, "data": {"a": 1}}),
        Record(1, R.HISTORY, T0, {"step": 1.5, "data": {"a": 1}}),
        Record(2, R.HISTORY, T0, {"step": 3, "data": {"a": 1}}),
    )
    assert [(r.seq, r.what) for r in plan.rejected] == [(0, Refused.STEP), (1, Refused.STEP)]
    assert [(m["step"], m["timestamp"]) for _, m in plan.metrics] == [(3, round(T0 * 1000))]


def test_config_param_once_per_batch_then_change_becomes_tag() -> None:
    state = MapState()
    plan = _plan(
        Record(0, R.CONFIG, T0, {"lr": 0.1, "long": "x" * 7000}),
        Record(1, R.CONFIG, T0, {"lr": 0.1}),
        Record(2, R.CONFIG, T0, {"lr": 0.2}),
        state=state,
    )
    assert plan.params["lr"] == (0, "0.1")
    assert len(plan.params["long"][1]) == 6000
    assert plan.tags["config.lr"] == (2, "0.2")
    assert state.config_dirty and state.config["lr"] == 0.2


def test_a_cut_config_value_is_tagged_and_marks_config_json_even_on_replay() -> None:
    state = MapState()
    plan = _plan(Record(0, R.CONFIG, T0, {"a": "x" * 6001, "b": "y" * 6000, "c": 1}),
                 Record(1, R.CONFIG, T0, {"c": "z" * 9000}), state=state)
    assert plan.tags["runwal.truncated_params"] == (1, "a, c")
    assert "config.c" in plan.tags and state.config["c"] == "z" * 9000
    assert state.config_dirty and MapState.from_json(state.to_json()).truncated == {"a", "c"}
    again, fresh = Plan(), MapState()  # checkpoint lost: the server has the cut param
    map_record(again, Record(0, R.CONFIG, T0, {"a": "x" * 6001}), fresh, {"a": "x" * 6000})
    assert not again.params and fresh.config_dirty
    assert again.tags["runwal.truncated_params"] == (0, "a")


def test_checkpoint_roundtrip_without_credentials(tmp_path: Path) -> None:
    rd = RunDir(write_run(tmp_path, "ck000001", training_records(1)))
    uri = "https://ann:secret@mlflow.example.com:8443/base"
    assert public_uri(uri) == "https://mlflow.example.com:8443/base"
    name = sink_name_for(uri)
    assert "secret" not in name and "ann" not in name
    ck = checkpoint.Checkpoint(name, public_uri(uri), "run1", "3", seq=7, segment="s", offset=9)
    checkpoint.save(rd, ck)
    assert "secret" not in checkpoint.path_for(rd, name).read_text()
    got = checkpoint.load(rd, name)
    assert got is not None and (got.seq, got.segment, got.offset) == (7, "s", 9)
    checkpoint.path_for(rd, name).write_text("{half")
    assert checkpoint.load(rd, name) is None  # unreadable = lost: the server is asked


def test_follow_tails_a_growing_run(tmp_path: Path, mlflow_uri: str) -> None:
    rd = write_run(tmp_path, "tail0001", training_records(100, status=None), project="p-tail")
    stop = threading.Event()
    seen: list[int] = []
    with build_client() as http:
        sink = MlflowSink(MlflowRest(mlflow_uri, http, stop=stop))
        box: dict[str, object] = {}

        def work() -> None:
            box["res"] = sync_run(
                rd,
                sink,
                follow=True,
                stop=stop,
                poll_interval=0.05,
                progress=lambda r: seen.append(r.last_seq),
            )

        t = threading.Thread(target=work, name="follow-test")
        t.start()
        try:
            deadline = time.monotonic() + 60
            while (not seen or seen[-1] < 101) and time.monotonic() < deadline:
                time.sleep(0.05)
            more = [
                (R.HISTORY, T0 + 5 + s, {"step": 100 + s, "data": {"loss": 0.5}}) for s in range(20)
            ]
            more.append((R.EXIT, T0 + 30, {"code": 0, "status": "finished", "runtime": 30}))
            append_segment(rd, more, base_seq=102)
            t.join(timeout=60)
        finally:
            stop.set()
            t.join(timeout=30)
            sink.close()
    res = box["res"]
    assert not t.is_alive()
    assert getattr(res, "finished", False) and getattr(res, "last_seq", 0) == 122
    hist = client(mlflow_uri).get_metric_history(getattr(res, "server_run_id", ""), "loss")
    assert sorted(m.step for m in hist) == list(range(120))


def test_cursor_counts_damage_to_a_live_segments_end_once_when_it_rotates(
        tmp_path: Path) -> None:
    recs = typical_records(20)
    run = build_run(tmp_path, recs[:12], records_per_frame=2)
    seg = next((run / "log").iterdir())
    spans = frame_spans(seg.read_bytes())
    Damage("flip", spans[-1].offset + spans[-1].size // 2).apply_to_file(seg)
    cursor = LogCursor(RunDir.open(run))
    first = [ev.text for ev in cursor.poll() if isinstance(ev, Note)]
    # no successor yet: open, with the damaged frame's own seqs known lost
    assert len(first) == 1 and first[0].endswith("lost seqs 10..11 (2 records) and any after them")
    append_segment(run, recs[12:], base_seq=12)  # the writer rotated
    later = cursor.poll()
    assert [ev for ev in later if isinstance(ev, Note)] == []  # seqs 10..11: said already
    seqs = [r.seq for ev in later if isinstance(ev, Frame) for r in ev.records]
    assert seqs == list(range(12, len(recs)))


def test_cursor_with_an_unusable_position_rereads_without_false_loss(tmp_path: Path) -> None:
    """A checkpoint whose segment is gone restarts at the first segment: frames below
    the expected seq are old news for the caller's filter, not damage."""
    run = build_run(tmp_path, typical_records(20), records_per_frame=4)
    cursor = LogCursor(RunDir.open(run), segment="99999999999999999999.seg", offset=4096,
                       expected_seq=10)
    events = cursor.poll()
    assert [n for n in events if isinstance(n, Note) and n.damage] == []
    seqs = [r.seq for ev in events if not isinstance(ev, Note) for r in ev.records]
    assert seqs == list(range(len(seqs))) and len(seqs) >= 20  # every frame, once, in order


def test_summary_tags_skip_the_metrics_last_value_and_keep_a_rich_value_whole() -> None:
    """Every summary value was mirrored as a summary.<key> tag, even the metric's last
    value, and an image in the summary became 8 tags (summary.pic/_type, /path, ...)."""
    state, plan = MapState(), Plan()
    for step, loss in enumerate((0.9, 0.5)):
        map_record(plan, Record(step, R.HISTORY, T0 + step,
                                {"step": step, "data": {"loss": loss, "acc": 0.1 * step}}),
                   state, {})
    pic = {"_type": "image-file", "path": "media/image/ab.png", "sha256": "ab" * 32,
           "size": 70, "width": 2, "height": 2, "format": "png"}
    summary = {"loss": 0.5, "acc": 0.9, "best": 0.3, "pic": pic, "note": "done"}
    map_record(plan, Record(5, R.SUMMARY, T0 + 5, summary), state, {})
    tags = {k: v for k, (_, v) in plan.tags.items() if k.startswith("summary.")}
    assert tags == {"summary.acc": "0.9",  # a summary (max) that is not the last value
                    "summary.best": "0.3", "summary.note": "done",
                    "summary.pic": "image-file media/image/ab.png"}
    # the state that makes this survives a checkpoint
    again = MapState.from_json(state.to_json())
    plan2 = Plan()
    map_record(plan2, Record(6, R.SUMMARY, T0 + 6, {"loss": 0.5}), again, {})
    assert "summary.loss" not in plan2.tags
