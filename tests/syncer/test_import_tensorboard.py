"""``runwal import tensorboard``: logdirs written here by tensorboardX and torch, imported,
checked point by point, re-imported (unchanged, grown), synced to the real server."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from logwriter.tensorboard.events import is_event_file, read_events
from logwriter_util import merged, of_kind, read_clean
from schema.layout import child_runs
from syncer.cli.importcmd import Progress
from syncer.cli.main import main
from syncer.importers.rundir import ImportResult
from syncer.importers.tensorboard import find_runs
from syncutil import client, runs_tagged

RUNWAL = Path(sys.executable).with_name("runwal")
STEPS = 25


def torch_writer() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter


def tbx_writer() -> Any:
    from tensorboardX import SummaryWriter

    return SummaryWriter


def write_logdir(root: Path) -> None:
    """Two runs, one per writer, each with every kind of value."""
    for name, make in (("tbx", tbx_writer), ("torch", torch_writer)):
        w = make()(str(root / name))
        for step in range(STEPS):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("acc", step / STEPS, step)
        w.add_text("log", f"written by {name}", 3)
        img = np.full((3, 2, 3), 128, dtype=np.uint8)
        w.add_image("sample", img, 4)
        w.add_histogram("w", np.array([1.0, 2.0, 2.0, 3.0]), 5)
        w.add_hparams({"lr": 0.001, "name": name}, {"hparam/best": 0.5})
        w.close()


def event_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.rglob("*") if is_event_file(p.name))


def imp(*args: str) -> Any:
    result = CliRunner().invoke(main, ["import", "tensorboard", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def by_source(result: Any) -> dict[str, dict[str, Any]]:
    return {Path(r["source"]).name: r for r in json.loads(result.stdout)["runs"]}


def test_both_writers_imported_point_by_point(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_logdir(logdir)
    res = imp(str(logdir), "--into", str(runs), "--json")
    assert res.exit_code == 0, res.output
    got = by_source(res)
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
    again = by_source(imp(str(logdir), "--into", str(runs), "--json"))
    assert {n: (r["run_id"], r["status"]) for n, r in again.items()} == {
        n: (r["run_id"], "unchanged") for n, r in got.items()}
    assert before == {n: sorted(p.name for p in (Path(r["run_dir"]) / "log").iterdir())
                      for n, r in got.items()}


def test_torn_tail_then_grown_appends_only_the_rest(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    w = tbx_writer()(str(logdir))
    for step in range(10):
        w.add_scalar("x", float(step), step)
    w.close()
    (f,) = event_files(logdir)
    whole = f.read_bytes()
    f.write_bytes(whole[:-5])  # the writer crashed mid-record
    first = by_source(imp(str(logdir), "--into", str(runs), "--json"))["logs"]
    assert first["status"] == "imported" and first["points"] == 9
    assert any("torn" in n for n in first["notes"])
    f.write_bytes(whole)
    second = by_source(imp(str(logdir), "--into", str(runs), "--json"))["logs"]
    assert (second["status"], second["points"], second["run_id"]) == ("appended", 1,
                                                                      first["run_id"])
    records = read_clean(second["run_dir"])
    steps = [rec.body["step"] for rec in records if rec.kind == "history"]
    assert steps == list(range(10))
    assert [rec.kind for rec in records].count("resume") == 1
    assert of_kind(records, "exit")[-1]["status"] == "finished"
    assert by_source(imp(str(logdir), "--into", str(runs), "--json"))["logs"][
        "status"] == "unchanged"
    # A source that shrank is no grown copy: refused, the run dir left alone.
    f.write_bytes(whole[:100])
    res = imp(str(logdir), "--into", str(runs), "--json")
    assert res.exit_code == 1 and "changed since it was imported" in by_source(res)["logs"][
        "reason"]


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
    r = by_source(imp(str(logdir), "--into", str(runs), "--json"))["logs"]
    assert r["status"] == "imported" and r["run_id"] == src.run_id
    assert len(read_clean(r["run_dir"])) == 4  # run, history, summary, exit
    assert not (runs / ".importing").exists()


def test_a_bad_source_never_aborts_the_batch(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    w = tbx_writer()(str(logdir / "good"))
    w.add_scalar("x", 1.0, 0)
    w.close()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = imp(str(empty), str(logdir), "--into", str(runs))
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN", "STATUS", "POINTS"]
    assert any("failed" in ln and "no TensorBoard event files" in ln for ln in lines)
    assert any("imported" in ln for ln in lines)
    assert "[2/2]" in res.stderr
    missing = imp(str(tmp_path / "nope"), "--into", str(runs))
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_progress_line_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = Progress(2, stream=out)
    p.update(5000)
    p.finished(ImportResult(source="a", kind="tensorboard", points=6000))
    p.close()
    assert "\rimport 0/2 runs  5,000 points" in out.getvalue()
    assert "\rimport 1/2 runs  6,000 points" in out.getvalue() and out.getvalue()[-1] == "\n"


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_logdir(logdir)
    res = imp(str(logdir), "--into", str(runs), "--dry-run", "--json")
    assert res.exit_code == 0
    assert {r["status"] for r in by_source(res).values()} == {"dry-run"}
    assert {r["points"] for r in by_source(res).values()} == {2 * STEPS + 1}
    assert not runs.exists()


def runwal(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240)


@pytest.mark.timeout(240)
def test_imported_then_synced_point_by_point_and_once(tmp_path: Path, mlflow_uri: str) -> None:
    logdir, runs = tmp_path / "tb-sync", tmp_path / "runs"
    write_logdir(logdir)
    got = by_source(imp(str(logdir), "--into", str(runs), "--json"))
    proc = runwal("sync", str(runs), "--to", mlflow_uri, "--json")
    assert proc.returncode == 0, proc.stderr
    synced = {r["run_id"]: r for r in json.loads(proc.stdout)["runs"]}
    c = client(mlflow_uri)
    for name, r in got.items():
        assert synced[r["run_id"]]["status"] == "synced"
        (server_run,) = runs_tagged(mlflow_uri, "tb-sync", r["run_id"])
        assert server_run.data.params == {"lr": "0.001", "name": name}
        for key in ("loss", "acc"):
            rows = sorted((m.step, m.timestamp, m.value)
                          for m in c.get_metric_history(server_run.info.run_id, key))
            expect = sorted((rec.body["step"], round(rec.ts * 1000), rec.body["data"][key])
                            for rec in read_clean(r["run_dir"]) if rec.kind == "history"
                            and key in rec.body["data"])
            assert len(rows) == STEPS and [(s, t) for s, t, _ in rows] == [
                (s, t) for s, t, _ in expect]
            assert all(abs(a[2] - b[2]) < 1e-6 for a, b in zip(rows, expect, strict=True))
        assert server_run.info.status == "FINISHED"
    # Importing again changes nothing, and a second sync sends nothing.
    again = by_source(imp(str(logdir), "--into", str(runs), "--json"))
    assert {r["status"] for r in again.values()} == {"unchanged"}
    proc = runwal("sync", str(runs), "--to", mlflow_uri, "--json")
    assert proc.returncode == 0, proc.stderr
    assert {(r["status"], r["points"]) for r in json.loads(proc.stdout)["runs"]} == {
        ("skipped", 0)}
    # The source grows (training went on: a new writer, a new event file): only the new
    # points are appended, and sent.
    w = tbx_writer()(str(logdir / "tbx"))
    for step in range(STEPS, STEPS + 5):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    grown = by_source(imp(str(logdir), "--into", str(runs), "--json"))
    assert (grown["tbx"]["status"], grown["tbx"]["points"]) == ("appended", 5)
    assert grown["torch"]["status"] == "unchanged"
    proc = runwal("sync", str(runs), "--to", mlflow_uri, "--json")
    assert proc.returncode == 0, proc.stderr
    sent = {r["run_id"]: (r["status"], r["points"]) for r in json.loads(proc.stdout)["runs"]}
    assert sent == {got["tbx"]["run_id"]: ("synced", 5), got["torch"]["run_id"]: ("skipped", 0)}
    (server_run,) = runs_tagged(mlflow_uri, "tb-sync", got["tbx"]["run_id"])
    steps = sorted(m.step for m in c.get_metric_history(server_run.info.run_id, "loss"))
    assert steps == list(range(STEPS + 5)) and server_run.info.status == "FINISHED"


@pytest.mark.parametrize("kind, blocked, extra", [
    ("tensorboard", ("tensorboard", "tensorboardX"), "runwal[tensorboard]"),
    ("wandb", ("wandb",), "runwal[wandb-import]"),
])
def test_a_missing_extra_is_one_line_and_exit_2(tmp_path: Path, kind: str,
                                                blocked: tuple[str, ...], extra: str) -> None:
    code = (f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
            "from syncer.cli.main import main\n"
            f"main(['import', {kind!r}, {str(tmp_path)!r}, '--into', {str(tmp_path / 'r')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("runwal: error: ") and extra in line


def test_runwal_export_reads_back(tmp_path: Path) -> None:
    """`runwal export --tensorboard` (its own pure-Python writer) and this reader agree."""
    from syncutil import training_records, write_run

    src = write_run(tmp_path / "orig", "abc", training_records(30))
    out = tmp_path / "tb"
    res = CliRunner().invoke(main, ["export", str(src), "--tensorboard", str(out)])
    assert res.exit_code == 0, res.output
    r = by_source(imp(str(out), "--into", str(tmp_path / "runs"), "--json"))["tb"]
    want = {(b["step"], k): float(np.float32(v)) for b in of_kind(read_clean(src), "history")
            for k, v in b["data"].items()}
    got = {(b["step"], k): v for b in of_kind(read_clean(r["run_dir"]), "history")
           for k, v in b["data"].items()}
    assert got == want
