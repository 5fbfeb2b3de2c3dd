"""The inspection commands over a shared run: verify, dump, ls, show and export see
every writer stream (``streams/<label>/``), each under its label."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runbuilder import (
    T0,
    RecordSpec,
    append_segment,
    build_run,
    frame_offsets,
    image_item,
    media_record,
    segment_path,
    typical_records,
)
from schema.records import RecordType as R
from syncer.cli import main

LABELS = ("rank_1", "rank_2")


def invoke(*args: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, res.stdout, res.stderr


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in out.splitlines()]


def stream_records(rank: int, steps: int = 4, status: str = "finished") -> list[RecordSpec]:
    """What one process of a 3-process job writes: its run record (with the stream
    facts), its history, a console line and its exit."""
    recs: list[RecordSpec] = [(R.RUN, T0 + rank, {
        "run_id": "job1", "project": "p", "name": "job1", "host": f"node{rank}", "pid": 100 + rank,
        "stream": {"label": f"rank_{rank}", "primary": rank == 0, "rank": rank,
                   "local_rank": rank, "world_size": 3, "node_rank": 0}})]
    recs += [(R.HISTORY, T0 + 1 + i, {"step": i, "data": {"loss": rank + i / 10}})
             for i in range(steps)]
    recs.append((R.CONSOLE, T0 + 9, {"stream": "stdout", "text": f"hello from {rank}\n"}))
    if status:
        recs.append((R.EXIT, T0 + 10, {"code": 0 if status == "finished" else 1,
                                        "status": status, "runtime": 10.0}))
    return recs


def shared_run(tmp_path: Path, *, records_per_frame: int | None = None,
               statuses: tuple[str, ...] = ("finished",) * 3) -> Path:
    """``tmp_path/job1``: a primary and two writer streams, byte by byte."""
    run = build_run(tmp_path, stream_records(0, status=statuses[0]), run_id="job1",
                    project="p", name="job1", records_per_frame=records_per_frame)
    for rank, label in enumerate(LABELS, start=1):
        build_run(run / "streams", stream_records(rank, status=statuses[rank]), run_id=label,
                  write_run_json=False, records_per_frame=records_per_frame)
    return run


def flip_byte(stream: Path, frame_index: int) -> None:
    """Flip one bit in the payload of a frame of ``stream``'s first segment."""
    name, offset, _ = frame_offsets(stream)[frame_index]
    path = stream / "log" / name
    raw = bytearray(path.read_bytes())
    raw[offset + 25] ^= 0x10
    path.write_bytes(bytes(raw))


SDK_SCRIPT = textwrap.dedent("""
    import os, sys, logwriter
    os.environ["RANK"] = sys.argv[1]; os.environ["WORLD_SIZE"] = "3"
    logwriter.init(project="p", id="job1", dir=sys.argv[2], shared=True, stats_interval=0)
    for i in range(5):
        logwriter.log({"loss": int(sys.argv[1]) + i * 0.01}, step=i)
    print("hello from", sys.argv[1])
    logwriter.finish()
""")


@pytest.fixture(scope="module")
def sdk_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared run written by three real SDK processes at once."""
    root = tmp_path_factory.mktemp("sdk")
    script = root / "w.py"
    script.write_text(SDK_SCRIPT)
    env = {**os.environ, "RUNWAL_DIR": str(root / "runs")}
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(root / "runs")],
                              cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for r in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    run = root / "runs" / "job1"
    assert sorted(p.name for p in (run / "streams").iterdir()) == list(LABELS)
    return run


# -- verify --------------------------------------------------------------------------


def test_verify_a_clean_shared_run_lists_every_stream(sdk_run: Path) -> None:
    code, out, err = invoke("verify", sdk_run)
    assert code == 0, out + err
    text = out.splitlines()
    assert text[0].startswith(f"{sdk_run}: 1 segment, ")
    assert [ln.split(":")[0] for ln in text[1:3]] == ["stream rank_1", "stream rank_2"]
    assert "9 records, seqs 0..8" in text[1]  # run, 5 history, console, summary, exit
    assert text[-1] == "clean (3 streams)"
    code, out, _ = invoke("verify", sdk_run, "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "clean" and report["records"] == 9
    assert set(report["streams"]) == set(LABELS)
    sub = report["streams"]["rank_2"]
    assert {k for k in report if k != "streams"} <= set(sub)  # the same report shape
    assert sub["status"] == "clean" and sub["records"] == 9 and sub["streams"] == {}
    assert sub["path"] == str(sdk_run / "streams" / "rank_2") and sub["notes"] == []


def test_verify_damage_in_one_stream_names_it_and_exits_1(tmp_path: Path) -> None:
    run = shared_run(tmp_path, records_per_frame=1)
    flip_byte(run / "streams" / "rank_2", 2)
    code, out, _ = invoke("verify", run)
    assert code == 1
    damage = [ln for ln in out.splitlines() if "damage:" in ln]
    assert len(damage) == 1 and damage[0].startswith("stream rank_2: damage: ")
    assert "lost seqs 2..2 (1 record)" in damage[0]
    assert out.splitlines()[-1] == ("DAMAGED: 1 damaged region, 1 seq gap, 1 record known "
                                    "lost (stream rank_2)")
    code, out, _ = invoke("verify", run, "--json")
    report = json.loads(out)
    assert code == 1 and report["status"] == "damaged"
    assert report["damage"] == [] and report["lost_records"] == 0  # the primary's own
    assert report["streams"]["rank_1"]["status"] == "clean"
    bad = report["streams"]["rank_2"]
    assert bad["status"] == "damaged" and bad["lost_records"] == 1
    assert [d["first_lost"] for d in bad["damage"]] == [2]
    # the damaged stream alone, given as RUN, names its run
    code, out, _ = invoke("verify", run / "streams" / "rank_2")
    assert code == 1
    assert out.splitlines()[0] == (f"{run / 'streams' / 'rank_2'}: stream rank_2 of run "
                                   f"job1 ({run})")
    assert "no run.json" not in out  # a stream has none of its own to check
    code, out, _ = invoke("verify", run / "streams" / "rank_1", "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "clean"
    assert (report["label"], report["stream_of"], report["run_id"]) == ("rank_1", str(run),
                                                                          "job1")


def test_verify_a_torn_tail_in_a_stream_is_not_damage(tmp_path: Path) -> None:
    run = shared_run(tmp_path, records_per_frame=1)
    seg = segment_path(run / "streams" / "rank_1")
    seg.write_bytes(seg.read_bytes()[:-5])
    code, out, _ = invoke("verify", run)
    assert code == 0
    torn = [ln for ln in out.splitlines() if "torn tail" in ln]
    assert len(torn) == 1 and torn[0].startswith("stream rank_1: torn tail at ")
    assert "DAMAGED" not in out and not out.splitlines()[-1].startswith("clean")
    report = json.loads(invoke("verify", run, "--json")[1])
    assert report["status"] == "torn" and report["torn"] == []
    assert report["streams"]["rank_1"]["status"] == "torn"
    assert report["streams"]["rank_2"]["status"] == "clean"


# -- dump ----------------------------------------------------------------------------


def test_dump_shows_every_stream_under_its_label(tmp_path: Path) -> None:
    run = shared_run(tmp_path)
    code, out, err = invoke("dump", run)
    assert code == 0 and err == ""
    rows = lines(out)
    n = len(stream_records(0))
    assert len(rows) == 3 * n
    assert [r.get("label") for r in rows] == [None] * n + ["rank_1"] * n + ["rank_2"] * n
    assert [r["seq"] for r in rows] == list(range(n)) * 3  # each stream's own seqs
    hist = next(r for r in rows if r.get("label") == "rank_1" and r["type"] == "history")
    assert list(hist) == ["seq", "type", "ts", "label", "step", "data"]
    assert hist["data"] == {"loss": 1.0}  # the record as logged, not renamed
    # a console line keeps its own "stream" (stdout/stderr): `jq .text` works for every rank
    consoles = [r for r in rows if r["type"] == "console"]
    assert consoles[0] == {"seq": n - 2, "type": "console", "ts": T0 + 9, "stream": "stdout",
                           "text": "hello from 0\n"}
    assert consoles[2] == {"seq": n - 2, "type": "console", "ts": T0 + 9, "label": "rank_2",
                           "stream": "stdout", "text": "hello from 2\n"}
    run_rec = [r for r in rows if r["type"] == "run"][1]
    assert run_rec["label"] == "rank_1" and run_rec["stream"]["rank"] == 1

    code, out, _ = invoke("dump", run, "--stream", "rank_2", "--type", "history")
    assert code == 0
    assert {(r["label"], r["type"]) for r in lines(out)} == {("rank_2", "history")}
    assert len(lines(out)) == 4
    for name in ("primary", ""):
        code, out, _ = invoke("dump", run, "--stream", name)
        assert code == 0 and len(lines(out)) == n
        assert all("label" not in r for r in lines(out))
    code, out, err = invoke("dump", run / "streams")
    assert code == 2 and f"it holds the writer streams of the run {run}; pass that run" in err
    code, out, err = invoke("dump", run, "--stream", "rank_9")
    assert code == 2 and out == ""
    assert "no stream 'rank_9'" in err and "primary, rank_1, rank_2" in err
    # a stream directory as RUN: its records, labelled
    code, out, _ = invoke("dump", run / "streams" / "rank_1")
    assert code == 0 and {r["label"] for r in lines(out)} == {"rank_1"}


def test_dump_damage_notes_name_the_stream(tmp_path: Path) -> None:
    run = shared_run(tmp_path, records_per_frame=1)
    flip_byte(run / "streams" / "rank_1", 1)
    code, out, err = invoke("dump", run)
    assert code == 0
    assert err.startswith("runwal: note: stream rank_1: damage: ")
    assert len(lines(out)) == 3 * len(stream_records(0)) - 1


# -- ls ------------------------------------------------------------------------------


def ls_json(directory: Path) -> list[dict[str, Any]]:
    code, out, err = invoke("ls", directory, "--json")
    assert code == 0, err
    return json.loads(out)


def test_ls_one_row_per_shared_run_summed_over_streams(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = shared_run(runs, records_per_frame=1)
    build_run(runs, typical_records(3), run_id="plain")
    rows = {r["run_id"]: r for r in ls_json(runs)}
    assert set(rows) == {"job1", "plain"}  # no stream listed as a run
    row = rows["job1"]
    n = len(stream_records(0))
    # steps: each stream logs the same 4 (0..3); records add up over the streams
    assert (row["streams"], row["records"], row["steps"], row["last_step"]) == (2, 3 * n, 4, 3)
    assert row["health"] == "ok" and row["status"] == "finished"
    assert rows["plain"]["streams"] == 0
    code, out, _ = invoke("ls", runs)
    assert code == 0
    table = {ln.split("  ")[0]: ln for ln in out.splitlines()[1:]}
    assert set(table) == {"job1 +2", "plain"}
    # health is the worst over the streams
    flip_byte(run / "streams" / "rank_2", 1)
    row = {r["run_id"]: r for r in ls_json(runs)}["job1"]
    assert row["health"] == "damaged" and row["damage"] == 1
    # a stream directory, or streams/, stands for its run
    for where in (run / "streams", run / "streams" / "rank_1"):
        assert [(r["run_id"], r["path"]) for r in ls_json(where)] == [("job1", str(run))]


def test_ls_health_torn_in_a_stream_and_sync_over_streams(tmp_path: Path) -> None:
    run = shared_run(tmp_path / "runs", records_per_frame=1)
    n = len(stream_records(0))
    (run / "sync").mkdir()
    (run / "sync" / "mlflow_x.json").write_text(json.dumps({"seq": n - 1}))
    (row,) = ls_json(tmp_path / "runs")
    assert row["sync"] == "partial"  # the streams are not synced yet
    for label in LABELS:
        (run / "streams" / label / "sync").mkdir()
        (run / "streams" / label / "sync" / "mlflow_x.json").write_text(
            json.dumps({"seq": n - 1}))
    seg = segment_path(run / "streams" / "rank_1")
    seg.write_bytes(seg.read_bytes()[:-5])
    (row,) = ls_json(tmp_path / "runs")
    assert row["health"] == "torn" and row["sync"] == "synced"


def test_ls_cache_reads_a_shared_run_again_when_a_stream_grows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWAL_CACHE_DIR", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    run = shared_run(runs, statuses=("finished", "", "finished"))
    n = len(stream_records(0))
    (first,) = ls_json(runs)
    assert first["records"] == 3 * n - 1
    # rank_1 goes on writing into a second segment: the primary's log is unchanged
    stream = run / "streams" / "rank_1"
    append_segment(stream, [(R.HISTORY, T0 + 20, {"step": 9, "data": {"loss": 0.5}})],
                   base_seq=n - 1)
    (again,) = ls_json(runs)
    assert (again["records"], again["last_step"]) == (3 * n, 9)
    # so does a stream that appears
    build_run(run / "streams", stream_records(3), run_id="rank_3", write_run_json=False)
    (third,) = ls_json(runs)
    assert (third["streams"], third["records"]) == (3, 4 * n)
    (cached,) = ls_json(runs)
    assert cached == third


# -- show ----------------------------------------------------------------------------


def test_show_has_a_streams_section_and_namespaced_metrics(tmp_path: Path) -> None:
    run = shared_run(tmp_path, statuses=("finished", "failed", ""))
    code, out, _ = invoke("show", run)
    assert code == 0
    text = out.splitlines()
    start = text.index("streams (3)")
    assert text[start + 1].split() == ["STREAM", "HOST", "RANK", "RECORDS", "STATUS",
                                       "CONSOLE", "LINES"]
    n = len(stream_records(0))
    assert [ln.split() for ln in text[start + 2:start + 5]] == [
        ["primary", "node0", "0", str(n), "finished", "stdout", "1"],
        ["rank_1", "node1", "1", str(n), "failed", "stdout", "1"],
        ["rank_2", "node2", "2", str(n - 1), "unfinished", "stdout", "1"],
    ]
    metrics = {ln.split()[0] for ln in text if ln.startswith("  ") and "/loss" in ln}
    assert metrics == {"rank_1/loss", "rank_2/loss"}
    assert any(ln.split()[0] == "loss" for ln in text if ln.startswith("  loss "))

    code, out, _ = invoke("show", run, "--json")
    view = json.loads(out)
    assert code == 0 and set(view["streams"]) == set(LABELS)
    assert view["metrics"]["rank_2/loss"]["last"] == pytest.approx(2.3)
    assert view["metrics"]["loss"]["count"] == 4  # the primary's own stay as they were
    assert view["counts"]["records"] == n and view["status"] == "finished"
    s1 = view["streams"]["rank_1"]
    assert (s1["host"], s1["rank"], s1["world_size"], s1["status"], s1["exit_code"]) == \
        ("node1", 1, 3, "failed", 1)
    assert s1["console_lines"] == {"stdout": 1} and s1["records"] == n
    assert view["streams"]["rank_2"]["status"] == "unfinished"


def test_show_names_damage_in_a_stream_and_a_stream_shown_alone(tmp_path: Path) -> None:
    run = shared_run(tmp_path, records_per_frame=1)
    flip_byte(run / "streams" / "rank_2", 1)
    code, out, _ = invoke("show", run)
    assert code == 0
    assert "damage (1 region, 1 record lost)" in out
    assert any(ln.startswith("  stream rank_2: ") for ln in out.splitlines())
    assert "finished (damaged)" in out
    code, out, _ = invoke("show", run / "streams" / "rank_1")
    assert code == 0
    assert ["stream", "rank_1", "of", "run", "job1"] in [ln.split()[:5] for ln in out.splitlines()]
    view = json.loads(invoke("show", run / "streams" / "rank_1", "--json")[1])
    assert (view["label"], view["stream_of"], view["streams"]) == ("rank_1", str(run), {})


def test_show_of_the_sdk_run(sdk_run: Path) -> None:
    code, out, _ = invoke("show", sdk_run, "--json")
    view = json.loads(out)
    assert code == 0
    assert {k: (s["rank"], s["world_size"], s["status"], s["console_lines"])
            for k, s in view["streams"].items()} == {
        "rank_1": (1, 3, "finished", {"stdout": 1}), "rank_2": (2, 3, "finished", {"stdout": 1})}
    assert {k for k in view["metrics"]} == {"loss", "rank_1/loss", "rank_2/loss"}
    assert view["metrics"]["rank_2/loss"]["min"] == 2.0


# -- export --------------------------------------------------------------------------


def read_events(path: Path) -> list[Any]:
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2

    data, pos, events = path.read_bytes(), 0, []
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        events.append(event_pb2.Event.FromString(data[pos + 12 : pos + 12 + n]))
        pos += 16 + n
    return events


def test_export_puts_the_streams_under_namespaced_tags(tmp_path: Path) -> None:
    run = shared_run(tmp_path)
    stream = run / "streams" / "rank_1"
    item = image_item(stream, 3, 2)  # in the stream's own files/
    append_segment(stream, [media_record(T0 + 30, "samples", 2, "image", [item])],
                   base_seq=len(stream_records(1)))
    code, out, err = invoke("export", run, "--tensorboard", tmp_path / "tb")
    assert code == 0, err
    assert "wrote 12 events, 12 scalars, 1 image, 4 tags" in out
    (path,) = (tmp_path / "tb").iterdir()
    values = {(ev.step, v.tag): v for ev in read_events(path)[1:] for v in ev.summary.value}
    assert {t for _, t in values} == {"loss", "rank_1/loss", "rank_2/loss", "rank_1/samples"}
    assert values[(3, "rank_2/loss")].simple_value == pytest.approx(2.3)
    assert values[(3, "loss")].simple_value == pytest.approx(0.3)
    assert values[(2, "rank_1/samples")].image.width == 3


# -- a plain run ---------------------------------------------------------------------


def test_a_plain_run_reads_as_before(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(3))
    code, out, _ = invoke("verify", run)
    assert code == 0 and "stream" not in out and out.splitlines()[-1] == "clean"
    report = json.loads(invoke("verify", run, "--json")[1])
    assert report["streams"] == {} and "stream_of" not in report
    code, out, _ = invoke("dump", run)
    assert all(r["type"] == "console" or "stream" not in r for r in lines(out))
    assert "stream" not in invoke("show", run)[1]
    view = json.loads(invoke("show", run, "--json")[1])
    assert view["streams"] == {} and "stream_of" not in view
    (row,) = ls_json(tmp_path)
    assert row["streams"] == 0 and row["records"] == len(typical_records(3))
    assert invoke("ls", tmp_path)[1].splitlines()[1].startswith("abc12345  proj")
