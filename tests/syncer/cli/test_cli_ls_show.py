"""`runwal ls` and `runwal show` through click's CliRunner, on runs built byte by byte."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbuilder import T0, build_run, segment_path, typical_records
from schema.records import RecordType
from syncer.cli import main
from syncer.cli.render import SPARKS, sparkline
from syncer.inspect.runview import Downsampler, RunView


def invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, res.stdout, res.stderr


# -- ls ------------------------------------------------------------------------------


def ls_rows(directory: Path) -> dict[str, dict]:
    code, out, err = invoke("ls", directory, "--json")
    assert code == 0, err
    return {r["run_id"]: r for r in json.loads(out)}


def test_ls_reads_an_unchanged_log_once_and_the_sync_state_every_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWAL_CACHE_DIR", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    run = build_run(runs, typical_records(5), run_id="aaa")
    build_run(runs, typical_records(2), run_id="bbb")
    first = ls_rows(runs)
    assert first["aaa"]["health"] == "ok" and first["aaa"]["sync"] == "-"
    # Damage the log behind ls's back, keeping its size and mtime: the row is the
    # cached one, so the log was not read again ...
    seg = segment_path(run)
    st = seg.stat()
    raw = bytearray(seg.read_bytes())
    raw[60] ^= 0xFF
    seg.write_bytes(bytes(raw))
    os.utime(seg, ns=(st.st_atime_ns, st.st_mtime_ns))
    (run / "sync").mkdir()
    (run / "sync" / "mlflow_x.json").write_text(json.dumps({"seq": first["aaa"]["last_seq"]}))
    again = ls_rows(runs)
    assert again["aaa"]["health"] == "ok"
    assert again["aaa"]["sync"] == "synced"  # ... while the sync state is read fresh
    assert again["bbb"] == first["bbb"]
    # a log that changed (here: its mtime) is read again
    os.utime(seg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert ls_rows(runs)["aaa"]["health"] == "damaged"
    # without the cache every ls reads every log
    os.utime(seg, ns=(st.st_atime_ns, st.st_mtime_ns))
    monkeypatch.setenv("RUNWAL_CACHE_DIR", "")
    assert ls_rows(runs)["aaa"]["health"] == "damaged"
    assert [p.name for p in (tmp_path / "cache" / "ls").iterdir() if ".tmp" in p.name] == []


def test_ls_cache_forgets_runs_that_are_gone_and_survives_a_bad_cache_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWAL_CACHE_DIR", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    build_run(runs, typical_records(3), run_id="keep")
    gone = build_run(runs, typical_records(3), run_id="gone")
    ls_rows(runs)
    (cache_file,) = (tmp_path / "cache" / "ls").iterdir()
    assert set(json.loads(cache_file.read_text())["rows"]) == {"keep", "gone"}
    shutil.rmtree(gone)
    assert set(ls_rows(runs)) == {"keep"}
    assert set(json.loads(cache_file.read_text())["rows"]) == {"keep"}
    cache_file.write_text("{not json")
    assert set(ls_rows(runs)) == {"keep"}  # a broken cache is ignored, then rewritten
    assert set(json.loads(cache_file.read_text())["rows"]) == {"keep"}


def test_ls_lists_runs_oldest_first_with_status_steps_and_sync(tmp_path: Path) -> None:
    build_run(tmp_path, typical_records(5), run_id="newer", created=T0 + 100)
    build_run(tmp_path, typical_records(3)[:-1], run_id="older", created=T0)  # no EXIT
    (tmp_path / "not-a-run").mkdir()
    code, out, err = invoke("ls", tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["RUN", "PROJECT", "NAME", "CREATED", "STATUS"]
    assert [ln.split()[0] for ln in lines[1:]] == ["older", "newer"]
    assert "unfinished" in lines[1] and "finished" in lines[2]
    assert "not-a-run" not in out


def test_ls_json_fields(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(7))
    code, out, _ = invoke("ls", tmp_path, "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["run_id"] == "abc12345" and row["project"] == "proj"
    assert row["status"] == "finished" and row["exit_code"] == 0
    assert row["steps"] == 7 and row["records"] == len(typical_records(7))
    assert row["size"] >= (segment_path(run)).stat().st_size
    assert row["sync"] == "-" and row["health"] == "ok"


def test_ls_sync_state_from_checkpoints(tmp_path: Path) -> None:
    recs = typical_records(4)
    synced = build_run(tmp_path, recs, run_id="synced")
    partial = build_run(tmp_path, recs, run_id="partial")
    for run, seq in ((synced, len(recs) - 1), (partial, 3)):
        (run / "sync").mkdir()
        (run / "sync" / "mlflow_localhost.json").write_text(json.dumps({"seq": seq}))
    code, out, _ = invoke("ls", tmp_path, "--json")
    assert code == 0
    state = {r["run_id"]: (r["sync"], r["sync_seq"]) for r in json.loads(out)}
    assert state["synced"] == ("synced", {"mlflow_localhost": len(recs) - 1})
    assert state["partial"] == ("partial", {"mlflow_localhost": 3})


def test_ls_empty_dir_says_so_and_exits_0(tmp_path: Path) -> None:
    assert invoke("ls", tmp_path) == (0, f"no runs under {tmp_path}\n", "")
    code, out, _ = invoke("ls", tmp_path, "--json")
    assert (code, json.loads(out)) == (0, [])


def test_ls_missing_dir_is_one_error_line_exit_2(tmp_path: Path) -> None:
    code, out, err = invoke("ls", tmp_path / "nope")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("runwal: error: ") and "hint:" in err


def test_ls_reports_unreadable_run_and_goes_on(tmp_path: Path) -> None:
    build_run(tmp_path, typical_records(2), run_id="good")
    bad = build_run(tmp_path, typical_records(2), run_id="bad")
    (bad / "run.json").write_text("{not json")
    code, out, err = invoke("ls", tmp_path)
    assert code == 0
    assert [ln.split()[0] for ln in out.splitlines()[1:]] == ["bad", "good"]
    assert err.startswith("runwal: note: ") and "unreadable run.json" in err
    code, out, _ = invoke("show", bad)  # the log is fine: show it, say what is wrong
    assert code == 0 and "unreadable run.json" in out and "loss" in out


# -- show ----------------------------------------------------------------------------


def test_show_text_has_every_section(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(20))
    code, out, err = invoke("show", run)
    assert code == 0, err
    assert out.startswith("run abc12345  (proj / test-run)")
    assert "finished (exit code 0)" in out
    assert "train.py --lr 0.1" in out and "deadbeef (main)" in out
    assert "config (2)" in out and "batch  64" in out  # later delta wins
    metrics = out.split("metrics (")[1]
    loss_line = next(ln for ln in metrics.splitlines() if ln.strip().startswith("loss"))
    assert loss_line.split()[1:5] == ["20", "0.05", "0.05", "1"]
    assert loss_line.split()[5][0] == SPARKS[-1] and loss_line.split()[5][-1] == SPARKS[0]
    assert "phase" in out.split("summary (")[1]  # last non-numeric history value
    assert "best_acc" in out
    assert "model.pt" in out and "[missing from files/]" in out
    assert "stdout: 2 lines, stderr: 1 line" in out
    assert "slow: loss plateau" in out
    assert "damage" not in out


def test_show_json_matches_the_records(tmp_path: Path) -> None:
    recs = [
        (RecordType.RUN, T0, {"host": "h"}),
        (RecordType.HISTORY, T0 + 1, {"step": 0, "data": {"x": 1.0, "s": "a"}}),
        (RecordType.HISTORY, T0 + 2, {"step": 5, "data": {"x": float("nan")}}),
        (RecordType.HISTORY, T0 + 3, {"step": 6, "data": {"x": -3.0, "flag": False}}),
        (RecordType.SUMMARY, T0 + 4, {"x": 99}),
        (RecordType.CONFIG, T0, {"a": 1}),
        (RecordType.CONFIG, T0, {"b": 2}),
    ]
    code, out, _ = invoke("show", build_run(tmp_path, recs), "--json")
    assert code == 0
    data = json.loads(out)  # strict JSON despite the NaN
    x = data["metrics"]["x"]
    assert (x["count"], x["last"], x["min"], x["max"], x["nonfinite"]) == (3, -3.0, -3.0, 1.0, 1)
    assert x["last_step"] == 6 and data["last_step"] == 6
    assert data["metrics"]["flag"]["last"] == 0.0
    assert data["summary"] == {"x": 99, "s": "a", "flag": False}  # explicit summary wins
    assert data["config"] == {"a": 1, "b": 2}
    assert data["status"] == "unfinished" and data["exit_code"] is None
    assert data["counts"]["records"] == len(recs) and data["damage"] == []


def test_show_summarizes_damage(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(30), records_per_frame=5)
    seg = segment_path(run)
    raw = bytearray(seg.read_bytes())
    raw[60] ^= 0x01  # inside the first frame
    seg.write_bytes(bytes(raw))
    code, out, _ = invoke("show", run)
    assert code == 0
    assert "damage (1 region, 5 records lost)" in out
    assert "seqs 0..4" in out


def test_show_not_a_run_exit_2_names_child_runs(tmp_path: Path) -> None:
    build_run(tmp_path, typical_records(1))
    code, out, err = invoke("show", tmp_path)
    assert code == 2 and out == ""
    assert err.startswith("runwal: error: ") and "abc12345" in err and err.count("\n") == 1


# -- units ---------------------------------------------------------------------------


def test_downsampler_keeps_memory_bounded_and_shape() -> None:
    ds = Downsampler(width=16)
    for i in range(100_000):
        ds.add(float(i))
    vals = ds.values()
    assert len(vals) <= 33
    assert vals == sorted(vals) and vals[0] < 5_000 and vals[-1] > 95_000


def test_sparkline_edges() -> None:
    assert sparkline([]) == ""
    assert sparkline([2.0, 2.0, 2.0]) == SPARKS[0] * 3
    assert sparkline([0.0, math.nan, 1.0]) == SPARKS[0] + SPARKS[-1]
    assert len(sparkline([float(i) for i in range(1000)], width=40)) == 40


@pytest.mark.parametrize("bad_body", [[1, 2], "text", None])
def test_runview_skips_malformed_bodies_with_a_note(tmp_path: Path, bad_body: object) -> None:
    run = build_run(tmp_path, [(RecordType.HISTORY, T0, bad_body),
                               (RecordType.HISTORY, T0, {"step": 1, "data": {"y": 2}})])
    view = RunView.load(run)
    assert view.records == 2 and view.history_count == 1
    assert view.notes and "not a map" in view.notes[0]


def test_steps_counts_steps_not_history_records(tmp_path: Path) -> None:
    """A step logged in two calls (train loss, then eval metrics) is one step: `ls` said
    201 steps for 100."""
    recs = [(RecordType.RUN, T0, {"project": "p"})]
    for step in range(100):
        recs.append((RecordType.HISTORY, T0 + step, {"step": step, "data": {"loss": 1.0}}))
        recs.append((RecordType.HISTORY, T0 + step, {"step": step, "data": {"acc": 0.5}}))
    recs.append((RecordType.HISTORY, T0 + 200, {"step": 100, "data": {"final": 1.0}}))
    build_run(tmp_path, recs, run_id="twocall")
    code, out, err = invoke("ls", tmp_path, "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["steps"] == 101 and row["records"] == len(recs)
    code, out, _ = invoke("show", tmp_path / "twocall")
    assert "101 steps, last step 100" in out
