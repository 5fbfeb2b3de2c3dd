"""``runwal import tensorboard``, the command: it starts the SDK's importer process
(``python -m logwriter.importers``) and renders what it says; imported runs synced to the
real server point by point, once. What the importer writes, point by point:
tests/logwriter/importers/test_importer_tensorboard.py."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from importsources import TB_STEPS as STEPS
from importsources import fake_packages, tbx_writer, write_logdir, write_scalars
from logwriter_util import of_kind, read_clean
from schema.import_protocol import ImportResult
from syncer.cli.importcmd import ImportProgress
from syncer.cli.main import main
from syncutil import client, runs_tagged

RUNWAL = Path(sys.executable).with_name("runwal")
REPORT_KEYS = {"source", "kind", "run_id", "run_dir", "status", "reason", "records", "points",
               "counts", "notes", "seconds"}  # docs/CLI.md, --json


def imp(*args: str) -> Any:
    result = CliRunner().invoke(main, ["import", "tensorboard", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def by_source(result: Any) -> dict[str, dict[str, Any]]:
    return {Path(r["source"]).name: r for r in json.loads(result.stdout)["runs"]}


def runwal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240,
                          env=env)


def test_json_and_the_table(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_scalars(logdir / "a", 7)
    res = imp(str(logdir), "--into", str(runs), "--json")
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.stdout)["runs"]
    assert set(r) == REPORT_KEYS
    assert (r["status"], r["points"], r["records"]) == ("imported", 7, 10)
    assert len(of_kind(read_clean(r["run_dir"]), "history")) == 7
    again = imp(str(logdir), "--into", str(runs))
    assert again.exit_code == 0
    header, row = again.stdout.splitlines()
    assert header.split() == ["RUN", "STATUS", "POINTS", "RECORDS", "SECONDS", "SOURCE"]
    assert row.split()[:3] == [r["run_id"], "unchanged", "0"]


def test_a_bad_source_never_aborts_the_batch(tmp_path: Path) -> None:
    logdir, runs = tmp_path / "logs", tmp_path / "runs"
    write_scalars(logdir / "good", 1)
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


def test_a_source_named_like_an_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_scalars(tmp_path / "-logs", 2)
    monkeypatch.chdir(tmp_path)
    res = imp("--into", "-runs", "--dry-run", "--json", "--", "-logs")
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.stdout)["runs"]
    assert (r["source"], r["status"], r["points"]) == ("-logs", "dry-run", 2)


def test_progress_line_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = ImportProgress(2, stream=out)
    p.update(5000)
    p.finished(ImportResult(source="a", kind="tensorboard", points=6000))
    p.close()
    assert "\rimport 0/2 runs  5,000 points" in out.getvalue()
    assert "\rimport 1/2 runs  6,000 points" in out.getvalue() and out.getvalue()[-1] == "\n"


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
    # points are appended, and sent. tensorboardX names its file by the second and host
    # only, so a writer made in the same second as the first would truncate that file
    # (this machine's clock can make several seconds of work one): a suffix of its own.
    w = tbx_writer()(str(logdir / "tbx"), filename_suffix=".grown")
    for step in range(STEPS, STEPS + 5):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    grown = by_source(imp(str(logdir), "--into", str(runs), "--json"))
    assert (grown["tbx"]["status"], grown["tbx"]["points"]) == ("appended", 5), grown["tbx"]
    assert grown["torch"]["status"] == "unchanged"
    proc = runwal("sync", str(runs), "--to", mlflow_uri, "--json")
    assert proc.returncode == 0, proc.stderr
    sent = {r["run_id"]: (r["status"], r["points"]) for r in json.loads(proc.stdout)["runs"]}
    assert sent == {got["tbx"]["run_id"]: ("synced", 5), got["torch"]["run_id"]: ("skipped", 0)}
    (server_run,) = runs_tagged(mlflow_uri, "tb-sync", got["tbx"]["run_id"])
    steps = sorted(m.step for m in c.get_metric_history(server_run.info.run_id, "loss"))
    assert steps == list(range(STEPS + 5)) and server_run.info.status == "FINISHED"


def _env_with(path: str, **more: str) -> dict[str, str]:
    env = dict(os.environ, **more)
    env["PYTHONPATH"] = path + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


BLOCKED = 'raise ImportError("No module named {name!r} (blocked by the test)")\n'


@pytest.mark.parametrize("kind, blocked, extra", [
    ("tensorboard", ("tensorboard", "tensorboardX"), "runwal[tensorboard]"),
    ("wandb", ("wandb",), "runwal[wandb-import]"),
])
def test_a_missing_extra_is_one_line_and_exit_2(tmp_path: Path, kind: str,
                                                blocked: tuple[str, ...], extra: str) -> None:
    """The importer process cannot import the extra (stand-ins first on its PYTHONPATH
    that refuse to import): its result line says so, the command prints one line."""
    fake = fake_packages(tmp_path / "fake", {f"{m}/__init__.py": BLOCKED.format(name=m)
                                             for m in blocked})
    write_scalars(tmp_path / "logs", 1)
    proc = runwal("import", kind, str(tmp_path / "logs"), "--into", str(tmp_path / "r"),
                  env=_env_with(fake))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("runwal: error: ") and extra in line
    assert proc.stdout == "" and not (tmp_path / "r" / ".importing").exists()


# A stand-in importer process, first on the child's PYTHONPATH (`python -P -m` ignores
# the cwd, not PYTHONPATH): it speaks the protocol, then misbehaves as FAKE_MODE says.
FAKE_MAIN = """
import os, signal, sys, time
from pathlib import Path
from schema import import_protocol as p

mode, flag = os.environ["FAKE_MODE"], Path(os.environ["FAKE_FLAG"])
say = lambda line: (sys.stdout.write(line + "\\n"), sys.stdout.flush())
say(p.started_line(0, 2, "src-a", "tensorboard"))
say(p.result_line(0, p.ImportResult(source="src-a", kind="tensorboard", run_id="tb-a",
                                    points=3, records=5)))
say(p.started_line(1, 2, "src-b", "tensorboard"))
if mode == "die":
    print("boom: the importer broke", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "stray":
    print("not a protocol line", flush=True)
    say(p.result_line(1, p.ImportResult(source="src-b", kind="tensorboard", run_id="tb-b")))
    say(p.done_line(2, 0))
    sys.exit(0)
if mode == "wait":
    def stop(signum, frame):
        flag.with_suffix(".got").write_text(signal.Signals(signum).name)
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    flag.write_text("ready")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
    sys.exit(9)
"""


def _fake_importer(tmp_path: Path, mode: str) -> dict[str, str]:
    fake = fake_packages(tmp_path / "fake", {
        "logwriter/__init__.py": "", "logwriter/importers/__init__.py": "",
        "logwriter/importers/__main__.py": FAKE_MAIN})
    return _env_with(fake, FAKE_MODE=mode, FAKE_FLAG=str(tmp_path / "flag"))


@pytest.mark.parametrize("mode, how", [("die", "ended with status 3"),
                                       ("kill", "was killed by SIGKILL")])
def test_an_importer_that_dies_is_one_error_and_exit_1(tmp_path: Path, mode: str,
                                                       how: str) -> None:
    (tmp_path / "src").mkdir()
    proc = runwal("import", "tensorboard", str(tmp_path / "src"), "--into",
                  str(tmp_path / "runs"), env=_fake_importer(tmp_path, mode))
    assert proc.returncode == 1, proc.stderr
    header, row = proc.stdout.splitlines()  # what it reported before it died
    assert header.split()[0] == "RUN" and row.split()[:3] == ["tb-a", "imported", "3"]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("runwal: error: ")]
    assert len(errors) == 1 and how in errors[0] and "1 of 2 sources" in errors[0]
    assert "Traceback" not in proc.stderr
    if mode == "die":  # the importer's own stderr reaches the user
        assert "boom: the importer broke" in proc.stderr


def test_a_stray_stdout_line_goes_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    proc = runwal("import", "tensorboard", str(tmp_path / "src"), "--into",
                  str(tmp_path / "runs"), "--json", env=_fake_importer(tmp_path, "stray"))
    assert proc.returncode == 0, proc.stderr
    assert [r["run_id"] for r in json.loads(proc.stdout)["runs"]] == ["tb-a", "tb-b"]
    assert "not a protocol line" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_is_forwarded_to_the_importer(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "src").mkdir()
    cmd = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    parent = subprocess.Popen([*cmd, "import", "tensorboard", str(tmp_path / "src"),
                               "--into", str(tmp_path / "runs")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_fake_importer(tmp_path, "wait"))
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "flag").exists():
            assert parent.poll() is None and time.monotonic() < deadline, parent.stderr
            time.sleep(0.05)
        parent.send_signal(sig)
        stdout, stderr = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode == 128 + sig, stderr
    assert (tmp_path / "flag.got").read_text() == sig.name  # the importer got it
    assert f"import interrupted by {sig.name}: 1 of 2 sources done" in stderr
    assert "Traceback" not in stderr and "tb-a" in stdout


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


def test_an_event_file_imports_its_run_and_a_bad_path_is_named_once(tmp_path: Path) -> None:
    """`runwal import tensorboard FILE`: the path was printed twice, with a hint about
    wandb directories. An event file now stands for the logdir that holds it."""
    logdir = tmp_path / "logs" / "exp1"
    write_scalars(logdir, 5)
    (event,) = logdir.glob("*tfevents*")
    res = imp(str(event), "--into", str(tmp_path / "runs"), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["runs"]
    assert row["status"] == "imported" and Path(row["source"]) == logdir
    again = imp(str(logdir), "--into", str(tmp_path / "runs"), "--json")
    assert json.loads(again.stdout)["runs"][0]["status"] == "unchanged"  # the same run
    notes = tmp_path / "notes.txt"
    notes.write_text("not tensorboard")
    res = imp(str(notes), "--into", str(tmp_path / "runs"))
    assert res.exit_code == 1
    (line,) = [ln for ln in res.stdout.splitlines() if "failed" in ln]
    assert line.count(str(notes)) == 1 and "wandb" not in line, line
    assert "a directory holding *tfevents* files" in line
