"""The TensorBoard importer (logwriter.importers): logdirs written here by tensorboardX and
torch, imported through `run_batch` (what ``python -m logwriter.importers`` runs), its
protocol lines parsed back, checked point by point, re-imported (unchanged, grown),
interrupted. The command (`runwal import`) and syncing: test_import_command_tensorboard.py."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from importsources import TB_STEPS as STEPS
from importsources import event_files, tbx_writer, write_logdir, write_scalars
from logwriter.importers.entry import Stopped, run_batch
from logwriter.importers.tensorboard import find_runs
from logwriter.tensorboard.events import read_events
from logwriter_util import merged, of_kind, read_clean
from schema import import_protocol as protocol
from schema.layout import child_runs


def imp(*sources: Path, into: Path, dry_run: bool = False) -> list[dict[str, Any]]:
    """Import as the importer process does, and read its protocol lines back."""
    lines: list[str] = []
    results = run_batch("tensorboard", [str(s) for s in sources], into, say=lines.append,
                        dry_run=dry_run)
    events = [protocol.parse_line(line) for line in lines]
    assert all(ev is not None for ev in events), lines
    said = [ev.result for ev in events if ev is not None and ev.result is not None]
    assert said == results and events[-1] == protocol.Event(
        protocol.DONE, total=len(results),
        failed=sum(r.status == protocol.FAILED for r in results))
    return [r.to_json() for r in results]


def by_source(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(r["source"]).name: r for r in results}


def test_both_writers_imported_point_by_point(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_logdir(logdir)
    got = by_source(imp(logdir, into=runs))
    assert set(got) == {"tbx", "torch"}  # add_hparams' child dirs belong to their runs
    for name, r in got.items():
        assert r["status"] == "imported" and r["points"] == 2 * STEPS + 1
        records = read_clean(r["run_dir"])
        # Point by point against what the event files hold: step, wall time, value.
        expect: dict[tuple[int, str], tuple[float, float]] = {}
        for f in event_files(logdir / name):
            for it in read_events(f).items:
                if it.kind == "scalar":
                    expect[(it.step, it.tag)] = (it.wall_time, it.value)
        rows = {(rec.body["step"], k): (rec.ts, v) for rec in records if rec.kind == "history"
                for k, v in rec.body["data"].items()}
        assert rows == expect
        assert [rows[(s, "loss")][1] for s in range(1, STEPS)] == [
            float(np.float32(1.0 / (s + 1))) for s in range(1, STEPS)]
        assert merged(records, "config") == {"lr": 0.001, "name": name}
        assert of_kind(records, "console") == [{"stream": "stdout",
                                                "text": f"log (step 3): written by {name}\n"}]
        media = {m["kind"]: m for m in of_kind(records, "media")}
        image = media["image"]["items"][0]
        png = (Path(r["run_dir"]) / "files" / image["file"]).read_bytes()
        assert hashlib.sha256(png).hexdigest() == image["sha256"] and png[:4] == b"\x89PNG"
        assert (image["width"], image["height"], media["image"]["step"]) == (3, 2, 4)
        h = media["histogram"]
        assert h["step"] == 5 and sum(h["items"][0]["counts"]) == 4
        run = of_kind(records, "run")[0]
        assert run["name"] == name and run["project"] == "logs"
        assert records[0].ts <= min(ts for ts, _ in expect.values())
        assert of_kind(records, "exit")[0]["status"] == "finished"
        assert records[-1].ts == max(rec.ts for rec in records)

    # Again: the same run ids, nothing written.
    before = {n: sorted(p.name for p in (Path(r["run_dir"]) / "log").iterdir())
              for n, r in got.items()}
    again = by_source(imp(logdir, into=runs))
    assert {n: (r["run_id"], r["status"]) for n, r in again.items()} == {
        n: (r["run_id"], "unchanged") for n, r in got.items()}
    assert before == {n: sorted(p.name for p in (Path(r["run_dir"]) / "log").iterdir())
                      for n, r in got.items()}


def test_torn_tail_then_grown_appends_only_the_rest(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_scalars(logdir, 10)
    (f,) = event_files(logdir)
    whole = f.read_bytes()
    f.write_bytes(whole[:-5])  # the writer crashed mid-record
    first = by_source(imp(logdir, into=runs))["logs"]
    assert first["status"] == "imported" and first["points"] == 9
    assert any("torn" in n for n in first["notes"])
    f.write_bytes(whole)
    second = by_source(imp(logdir, into=runs))["logs"]
    assert (second["status"], second["points"], second["run_id"]) == ("appended", 1,
                                                                      first["run_id"])
    records = read_clean(second["run_dir"])
    steps = [rec.body["step"] for rec in records if rec.kind == "history"]
    assert steps == list(range(10))
    assert [rec.kind for rec in records].count("resume") == 1
    assert of_kind(records, "exit")[-1]["status"] == "finished"
    assert by_source(imp(logdir, into=runs))["logs"][
        "status"] == "unchanged"
    # A source that shrank is no grown copy: refused, the run dir left alone.
    f.write_bytes(whole[:100])
    shrunk = by_source(imp(logdir, into=runs))["logs"]
    assert shrunk["status"] == "failed" and "changed since it was imported" in shrunk["reason"]


def test_an_interrupted_import_is_no_run_and_is_redone(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    w = tbx_writer()(str(logdir))
    w.add_scalar("x", 1.0, 0)
    w.close()
    (src,) = find_runs(logdir)
    half = runs / ".importing" / src.run_id
    (half / "log").mkdir(parents=True)
    (half / "log" / "00000000000000000000.seg").write_bytes(b"RWAL half")
    assert child_runs(runs) == []  # `runwal sync RUNS` sees no run
    r = by_source(imp(logdir, into=runs))["logs"]
    assert r["status"] == "imported" and r["run_id"] == src.run_id
    assert len(read_clean(r["run_dir"])) == 4  # run, history, summary, exit
    assert not (runs / ".importing").exists()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_logdir(logdir)
    res = imp(logdir, into=runs, dry_run=True)
    assert {r["status"] for r in by_source(res).values()} == {"dry-run"}
    assert {r["points"] for r in by_source(res).values()} == {2 * STEPS + 1}
    assert not runs.exists()




def test_a_bad_source_is_a_failed_result_and_the_batch_goes_on(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_scalars(logdir / "good", 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    lines: list[str] = []
    run_batch("tensorboard", [str(empty), str(tmp_path / "nope"), str(logdir)], runs,
              say=lines.append)
    events = [protocol.parse_line(line) for line in lines]
    assert [(ev.event, ev.index) for ev in events if ev is not None] == [
        ("started", 0), ("result", 0), ("started", 1), ("result", 1),
        ("started", 2), ("result", 2), ("done", -1)]
    results = [ev.result for ev in events if ev is not None and ev.result is not None]
    assert [r.status for r in results] == ["failed", "failed", "imported"]
    assert "no TensorBoard event files" in results[0].reason
    assert "not a directory" in results[1].reason and results[2].points == 3
    assert events[0] is not None and events[0].total == 3
    assert events[-1] == protocol.Event(protocol.DONE, total=3, failed=2)


def test_a_stop_mid_import_leaves_no_run_and_the_next_import_redoes_it(
        tmp_path: Path) -> None:
    """SIGTERM in the importer process (`Stopped`) at the first progress line: the writer
    is closed (no thread left: the autouse fixture), no done line, no run; then a whole
    import."""
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_scalars(logdir, 6000)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        ev = protocol.parse_line(line)
        if ev is not None and ev.event == protocol.PROGRESS:
            raise Stopped(signal.SIGTERM)

    with pytest.raises(Stopped):
        run_batch("tensorboard", [str(logdir)], runs, say=say)
    assert [protocol.parse_line(line).event for line in lines] == [  # type: ignore[union-attr]
        "started", "progress"]
    assert child_runs(runs) == [] and (runs / ".importing").is_dir()
    r = by_source(imp(logdir, into=runs))["logs"]
    assert (r["status"], r["points"]) == ("imported", 6000)
    assert len(of_kind(read_clean(r["run_dir"]), "history")) == 6000
    assert not (runs / ".importing").exists()


def test_stdout_is_the_protocol_alone(tmp_path: Path) -> None:
    """In the process, what anything else prints on stdout (fd 1) goes to stderr."""
    import subprocess
    import sys

    code = ("import os\nfrom logwriter.importers.entry import _protocol_stdout\n"
            "out = _protocol_stdout()\nprint('stray print', flush=True)\n"
            "os.write(1, b'stray bytes\\n')\nout.write('protocol\\n')\nout.flush()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "protocol\n"
    assert "stray print" in proc.stderr and "stray bytes" in proc.stderr
