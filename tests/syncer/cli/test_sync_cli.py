"""``runwal sync``: many runs, bad runs, closed ports, dry runs, kill -9 mid-upload."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncer.sinks.mlflow.loopback_server import free_port
from syncutil import client, runs_tagged, training_records, write_run

RUNWAL = Path(sys.executable).with_name("runwal")


def runwal_sync(*args: str) -> list[str]:
    """The installed console script, as users run it."""
    if RUNWAL.exists():
        return [str(RUNWAL), "sync", *args]
    return [sys.executable, "-m", "syncer.cli.sync", *args]


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(runwal_sync(*args), capture_output=True, text=True, timeout=timeout)


def test_bad_run_reported_others_synced(tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    for i in range(3):
        write_run(runs, f"good{i}", training_records(200), project="p-cli")
    (runs / "notes.txt").write_text("not a run")
    bad = runs / "broken"
    (bad / "log").mkdir(parents=True)
    (bad / "log" / "00000000000000000000.seg").write_bytes(b"garbage" * 20)
    proc = run(*(str(p) for p in sorted(runs.iterdir())), "--to", mlflow_uri, "--json")
    assert proc.returncode == 1, proc.stderr
    by_id = {r["run_id"]: r for r in json.loads(proc.stdout)["runs"]}
    assert {by_id[f"good{i}"]["status"] for i in range(3)} == {"synced"}
    assert by_id["broken"]["status"] == "failed" and "bad magic" in " ".join(
        by_id["broken"]["notes"]
    )
    assert by_id["notes.txt"]["status"] == "failed"
    assert "not a run directory" in by_id["notes.txt"]["reason"]
    for i in range(3):
        hist = client(mlflow_uri).get_metric_history(by_id[f"good{i}"]["server_run_id"], "loss")
        assert len(hist) == 200

    # Table output, a directory of runs, --exclude, and already-synced runs skipped.
    proc = run(str(runs), "--to", mlflow_uri, "--exclude", "broken")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["RUN", "NAME", "STATUS", "POINTS", "SECONDS", "URL", "REASON"]
    url = f"{mlflow_uri}/#/experiments/{by_id['good0']['experiment_id']}/runs/"
    assert by_id["good0"]["url"] == url + by_id["good0"]["server_run_id"]
    assert sum(url in line for line in lines[1:]) == 3  # what MLflow's "View run ... at:" shows
    assert sorted(line.split()[2] for line in lines[1:]) == ["skipped"] * 3
    assert "[3/3]" in proc.stderr  # one progress line per run when stderr is not a TTY


def test_dry_run_and_include(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "alpha", training_records(10, ("a", "b", "c")))
    write_run(runs, "beta", training_records(10))
    proc = run(str(runs), "--dry-run", "--include", "al*", "--json", "--to", "http://127.0.0.1:9")
    assert proc.returncode == 0, proc.stderr
    (only,) = json.loads(proc.stdout)["runs"]
    assert only["run_id"] == "alpha" and only["points"] == 30 and only["records"] == 13
    assert not (runs / "alpha" / "sync").exists()


def test_closed_port_fails_fast_with_clear_error(tmp_path: Path) -> None:
    rd = write_run(tmp_path, "port0001", training_records(10))
    t0 = time.monotonic()
    proc = run(str(rd), "--to", f"http://127.0.0.1:{free_port()}", "--connect-timeout", "2")
    took = time.monotonic() - t0
    assert proc.returncode == 1
    assert "cannot reach the MLflow server" in proc.stderr and "Connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert took < 30  # generous: interpreter start on a loaded box; the retry budget is 2 s


def test_no_server_configured_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWAL_SERVER", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rd = write_run(tmp_path, "nosrv001", training_records(1))
    proc = run(str(rd))
    assert proc.returncode == 2 and "RUNWAL_SERVER" in proc.stderr


def test_a_missing_path_is_a_usage_error_before_anything_is_synced(tmp_path: Path) -> None:
    """A typo on the command line: exit 2, one line, even among good runs and even
    with --dry-run; a bad run among good ones is a failed run instead (see above)."""
    good = write_run(tmp_path, "good0001", training_records(5))
    missing = tmp_path / "missing"
    for args in (("--dry-run", str(missing)), (str(good), str(missing))):
        proc = run(*args, "--to", f"http://127.0.0.1:{free_port()}")
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(f"runwal: error: {missing}: no such file or directory")
    assert not (good / "sync").exists()
    help_text = run("--help").stdout
    assert "2 usage error (a path that does not exist" in help_text


def test_kill_minus_9_mid_upload_then_exact(tmp_path: Path, mlflow_uri: str) -> None:
    keys = ("m0", "m1", "m2", "m3", "m4")
    rd = write_run(tmp_path, "kill0001", training_records(20_000, keys), project="p-kill")
    rng = random.Random(7)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(
            runwal_sync(str(rd), "--to", mlflow_uri),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(2.0, 6.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    assert kills >= 2
    final = run(str(rd), "--to", mlflow_uri, "--json", timeout=280)
    assert final.returncode == 0, final.stderr
    (res,) = json.loads(final.stdout)["runs"]
    assert res["status"] in ("synced", "skipped")
    (server_run,) = runs_tagged(mlflow_uri, "p-kill", "kill0001")
    assert server_run.info.status == "FINISHED"
    c = client(mlflow_uri)
    for key in ("m0", "m4"):
        hist = c.get_metric_history(server_run.info.run_id, key)
        assert sorted(m.step for m in hist) == list(range(20_000)), key


def test_a_directory_without_runs_is_a_note_and_exit_0_as_in_ls(tmp_path: Path) -> None:
    """`runwal sync EMPTY_DIR` said "failed ... not a run directory", exit 1, while
    `runwal ls` says "no runs" and `syncd --once` exits 0. No server is contacted."""
    empty = tmp_path / "runs"
    (empty / "not-a-run").mkdir(parents=True)
    proc = run(str(empty), "--to", "http://127.0.0.1:9", "--json")  # nothing listens there
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"runs": []}
    assert proc.stderr.strip() == f"runwal: note: no runs under {empty}"
    tb = tmp_path / "tblogs"  # another tool's run keeps its failure and its import hint
    tb.mkdir()
    (tb / "events.out.tfevents.1.host").write_bytes(b"")
    proc = run(str(tb), "--dry-run", "--json")
    assert proc.returncode == 1
    (res,) = json.loads(proc.stdout)["runs"]
    assert res["status"] == "failed" and "runwal import tensorboard" in res["reason"], res


def test_the_table_names_the_runs_oldest_first(tmp_path: Path) -> None:
    """Run ids are random: the table was in id order and had no name column."""
    from runbuilder import T0, build_run

    runs = tmp_path / "runs"
    for run_id, name, created in (("zzz00001", "first", T0), ("aaa00002", "second", T0 + 60),
                                  ("mmm00003", "third", T0 + 120)):
        build_run(runs, training_records(3), run_id=run_id, name=name, created=created)
    proc = run(str(runs), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[:2] for line in proc.stdout.splitlines()[1:]]
    assert rows == [["zzz00001", "first"], ["aaa00002", "second"], ["mmm00003", "third"]]
    proc = run(str(runs), "--dry-run", "--json")
    assert [r["name"] for r in json.loads(proc.stdout)["runs"]] == ["first", "second", "third"]
