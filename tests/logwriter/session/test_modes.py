"""online and hybrid modes against a real MLflow server: the SDK's `runwal follow`
process delivers the run exactly once, and no mode leaves a process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import logwriter
from logwriter.errors import NoServerError, SyncStartError, SyncWarning
from logwriter.session.syncproc import follow_command
from logwriter_util import QUIET, history, read_run
from schema.layout import RunDir
from syncer.engine.synclock import SyncLock
from syncer.engine.unit import sync_path
from syncer.sinks.mlflow.connect import open_server
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer, free_port
from syncer.sinks.mlflow.sink import sink_name_for
from syncutil import client, runs_tagged, training_records, write_run

CHILD = str(Path(__file__).resolve().parents[2] / "online_child.py")


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Every process a test starts (followers included) is gone at its end."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    left = [p for p in me.children(recursive=True) if p.pid not in before]
    for p in left:  # clean up first so one failure does not cascade into the next tests
        p.kill()
        p.wait(10)
    assert not left, f"test leaked processes: {[p.pid for p in left]}"


@pytest.fixture(autouse=True)
def no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNWAL_SERVER", "MLFLOW_TRACKING_URI", "RUNWAL_MODE", "RUNWAL_SYNC_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def wait_gone(pid: int, timeout: float = 60.0) -> None:
    """Wait for a process that is not our child (zombies count as gone)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still running after {timeout}s")


def server_run(uri: str, project: str, run_id: str) -> Any:
    runs = runs_tagged(uri, project, run_id)
    assert len(runs) == 1, f"{len(runs)} server runs tagged {run_id}"
    return runs[0]


def metric_rows(uri: str, server_run_id: str, key: str) -> list[tuple[int, float]]:
    rows = client(uri).get_metric_history(server_run_id, key)
    return sorted((m.step, m.value) for m in rows)


def disk_rows(run_dir: str, key: str) -> list[tuple[int, float]]:
    records, _ = read_run(run_dir)
    return sorted((step, float(data[key])) for step, data in history(records).items())


# -- settings ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["online", "hybrid"])
def test_syncing_modes_need_an_http_server_before_any_file(tmp_path: Path, mode: str) -> None:
    with pytest.raises(NoServerError, match="needs a tracking server"):
        logwriter.init(dir=tmp_path, mode=mode, **QUIET)
    with pytest.raises(NoServerError, match=r"'file'.*need http"):
        logwriter.init(dir=tmp_path, mode=mode, server="file:./mlruns", **QUIET)
    assert os.listdir(tmp_path) == [] and logwriter.run is None


def test_credentials_stay_off_the_command_line() -> None:
    cmd, env = follow_command("/r/abc", "https://u:secret@host:5000", until_seq=7,
                              wait_server=True)
    assert not any("secret" in arg for arg in cmd)
    assert env["RUNWAL_SERVER"] == "https://u:secret@host:5000"
    assert cmd[cmd.index("--until-seq") + 1] == "7" and "inf" in cmd
    cmd, env = follow_command("/r/abc", "http://host:5000", until_seq=0, wait_server=False)
    assert cmd[cmd.index("--to") + 1] == "http://host:5000" and "--wait-server" not in cmd


def test_a_syncer_that_cannot_start_fails_online_and_warns_hybrid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(SyncStartError, match="cannot start the syncer process"):
        logwriter.init(dir=tmp_path / "a", mode="online", server="http://127.0.0.1:9", **QUIET)
    assert not (tmp_path / "a").exists()
    with pytest.warns(SyncWarning, match="logs locally only"):
        run = logwriter.init(dir=tmp_path / "b", mode="hybrid", server="http://127.0.0.1:9",
                             **QUIET)
    run.log({"x": 1.0})
    run.finish()  # offline from here on: no syncer to wait for, no warning
    assert run.syncer_pid is None and disk_rows(run.run_dir, "x") == [(0, 1.0)]


# -- online -----------------------------------------------------------------


def test_online_run_is_exactly_on_the_server_after_finish(
    tmp_path: Path, mlflow_uri: str
) -> None:
    run = logwriter.init(project="modes", dir=tmp_path, mode="online", server=mlflow_uri,
                         config={"lr": 0.1, "opt": {"name": "sgd"}}, **QUIET)
    pid = run.syncer_pid
    assert pid is not None and psutil.pid_exists(pid)
    n = 1200
    for i in range(n):
        run.log({"loss": 1.0 / (i + 1), "acc": i / n})
    run.summary["best"] = 7
    run.finish()  # waits for the follower: everything is on the server now
    assert run._follower is not None and run._follower.proc.returncode == 0
    srv = server_run(mlflow_uri, "modes", run.id)
    assert srv.info.status == "FINISHED"
    assert metric_rows(mlflow_uri, srv.info.run_id, "loss") == disk_rows(run.run_dir, "loss")
    assert [s for s, _ in metric_rows(mlflow_uri, srv.info.run_id, "acc")] == list(range(n))
    assert srv.data.params == {"lr": "0.1", "opt/name": "sgd"}
    assert srv.data.tags["summary.best"] == "7"
    sync_dir = Path(run.run_dir) / "sync"
    ckpt = json.loads((sync_dir / f"{sink_name_for(mlflow_uri)}.json").read_text())
    assert ckpt["finished"] and (Path(run.run_dir) / "sync" / "follow.log").is_file()


@pytest.mark.parametrize("mode", ["online", "hybrid"])
def test_credentials_never_reach_a_file_of_the_run(
    tmp_path: Path, mlflow_uri: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracking URI with a password, and MLflow's password variable: after an online
    or hybrid run synced by its follower, no file of the run directory holds either
    (run.json, the log, sync/follow.log, the checkpoint, the server state, files/)."""
    secret, env_secret = "Pw-in-URI-9f3", "Pw-in-env-7c1"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env_secret)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    uri = mlflow_uri.replace("http://", f"http://alice:{secret}@")
    run = logwriter.init(project="modes", dir=tmp_path, mode=mode, server=uri, **QUIET)
    for i in range(50):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish()
    assert run._follower is not None and run._follower.proc.returncode == 0
    assert server_run(mlflow_uri, "modes", run.id).info.status == "FINISHED"
    files = [p for p in Path(run.run_dir).rglob("*") if p.is_file()]
    names = {p.relative_to(run.run_dir).as_posix() for p in files}
    assert {"run.json", "sync/follow.log", f"sync/{sink_name_for(uri)}.json"} <= names, names
    for path in files:
        data = path.read_bytes()
        for word in (secret, env_secret):
            assert word.encode() not in data, f"{word} in {path}"


def test_online_syncer_stopping_mid_run_is_reported_and_sync_finishes_the_job(
    tmp_path: Path, mlflow_uri: str
) -> None:
    run = logwriter.init(project="modes", id="stopped1", dir=tmp_path, mode="online",
                         server=mlflow_uri, **QUIET)
    assert run._follower is not None
    for i in range(100):
        run.log({"x": float(i)})
    os.kill(run._follower.pid, signal.SIGTERM)  # someone stops the syncer
    run._follower.proc.wait(30)
    step = 100
    deadline = time.monotonic() + 30
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        while time.monotonic() < deadline and not caught:  # the writer checks every 2 s
            run.log({"x": float(step)})
            step += 1
            time.sleep(0.05)
    assert [w.category for w in caught] == [SyncWarning]
    assert "the syncer of run stopped1 stopped" in str(caught[0].message)
    with pytest.warns(SyncWarning, match="runwal sync"):
        run.finish()
    done = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", run.run_dir, "--to",
                           mlflow_uri, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"][0]["status"] == "synced"
    srv = server_run(mlflow_uri, "modes", "stopped1")
    assert metric_rows(mlflow_uri, srv.info.run_id, "x") == [(i, float(i)) for i in range(step)]
    assert srv.info.status == "FINISHED"


def test_online_with_a_closed_port_fails_at_init_leaving_nothing(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SyncStartError, match="cannot reach the MLflow server") as info:
        logwriter.init(project="modes", dir=tmp_path / "runs", mode="online", server=uri,
                       **QUIET)
    assert uri in str(info.value) and "mode='hybrid'" in str(info.value)
    assert not (tmp_path / "runs").exists() and logwriter.run is None
    # no_leaked_processes: the follower was stopped and reaped


def test_online_resume_waits_for_the_new_exit(tmp_path: Path, mlflow_uri: str) -> None:
    first = logwriter.init(project="modes", id="resumed1", dir=tmp_path, mode="online",
                           server=mlflow_uri, **QUIET)
    for i in range(5):
        first.log({"x": float(i)})
    first.finish()
    second = logwriter.init(project="modes", id="resumed1", dir=tmp_path, mode="online",
                            server=mlflow_uri, resume=True, **QUIET)
    time.sleep(1.0)  # a follower that took the old EXIT for the end would have left by now
    assert second._follower is not None and second._follower.proc.poll() is None
    for i in range(5, 12):
        second.log({"x": float(i)})
    second.finish()
    srv = server_run(mlflow_uri, "modes", "resumed1")
    assert metric_rows(mlflow_uri, srv.info.run_id, "x") == [(i, float(i)) for i in range(12)]
    assert srv.info.status == "FINISHED"


def test_online_script_ending_without_finish_is_delivered_at_exit(
    tmp_path: Path, mlflow_uri: str
) -> None:
    out = subprocess.run([sys.executable, CHILD, "exit", str(tmp_path), "atexit1", mlflow_uri],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["imported"] == []  # the training process never loads the syncer or httpx
    assert not psutil.pid_exists(report["syncer_pid"])  # waited for and reaped by the child
    srv = server_run(mlflow_uri, "modes", "atexit1")
    assert srv.info.status == "FINISHED"
    assert metric_rows(mlflow_uri, srv.info.run_id, "x") == [(i, float(i)) for i in range(50)]


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGKILL, "RUNNING"),
                                             (signal.SIGTERM, "KILLED")])
def test_online_training_killed_follower_delivers_what_was_flushed(
    tmp_path: Path, mlflow_uri: str, sig: int, status: str
) -> None:
    """SIGKILL: no EXIT record, the follower notices the death and sends what is on
    disk. SIGTERM (preemption): the SDK writes EXIT "preempted" and waits at most a
    few seconds; the follower, in its own session, finishes the delivery."""
    run_id = f"killed{int(sig)}"
    proc = subprocess.Popen([sys.executable, CHILD, "loop", str(tmp_path), run_id, mlflow_uri],
                            stdout=subprocess.PIPE, text=True)
    syncer_pid = None
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        syncer_pid, run_dir = started["syncer_pid"], started["dir"]
        ckpt = Path(run_dir) / "sync" / f"{sink_name_for(mlflow_uri)}.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the follower is delivering a live run
            if ckpt.exists() and json.loads(ckpt.read_text())["seq"] > 300:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the follower never acknowledged 300 records")
        proc.send_signal(sig)
        assert proc.wait(30) == -sig
        wait_gone(syncer_pid)  # the follower ended by itself
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if syncer_pid is not None and psutil.pid_exists(syncer_pid):
            os.kill(syncer_pid, signal.SIGKILL)
        if proc.stdout is not None:
            proc.stdout.close()
    on_disk = disk_rows(run_dir, "y")
    assert len(on_disk) > 300
    srv = server_run(mlflow_uri, "modes", run_id)
    assert metric_rows(mlflow_uri, srv.info.run_id, "y") == on_disk
    assert srv.info.status == status  # SIGKILL: no EXIT, left unfinished like `runwal sync`
    if sig == signal.SIGKILL:
        log = (Path(run_dir) / "sync" / "follow.log").read_text()
        assert "ended without an exit record" in log


def test_forked_child_leaves_the_parents_follower_alone(tmp_path: Path, mlflow_uri: str) -> None:
    out = subprocess.run([sys.executable, CHILD, "fork", str(tmp_path), "forked", mlflow_uri],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["syncer_alive_after_child"] and report["syncer_status"] == 0
    assert report["warnings"] == []
    srv = server_run(mlflow_uri, "modes", "forked")
    assert metric_rows(mlflow_uri, srv.info.run_id, "x") == [(i, float(i)) for i in range(20)]


# -- hybrid -----------------------------------------------------------------


@pytest.mark.server  # starts its own MLflow server
def test_hybrid_with_the_server_down_logs_locally_then_catches_up_once(tmp_path: Path) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    run = logwriter.init(project="modes", id="hybrid1", dir=tmp_path / "runs", mode="hybrid",
                         server=uri, **QUIET)
    follower = run._follower
    assert follower is not None
    server = LocalMlflowServer(tmp_path / "mlflow", port=port)
    try:
        n = 800
        for i in range(n):
            run.log({"x": float(i)})
        with pytest.warns(SyncWarning, match="keeps trying in the background"):
            run.finish()  # bounded (5 s in hybrid), never raises
        assert follower.proc.poll() is None  # still waiting for the server
        server.start()
        assert follower.proc.wait(120) == 0  # caught up by itself once the server answered
        srv = server_run(uri, "modes", "hybrid1")
        expected = [(i, float(i)) for i in range(n)]
        assert metric_rows(uri, srv.info.run_id, "x") == expected
        assert srv.info.status == "FINISHED"
        # `runwal sync` afterwards finds nothing left to do and adds nothing
        again = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", run.run_dir, "--to",
                                uri, "--json"], capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["runs"][0]["status"] == "skipped"
        assert metric_rows(uri, server_run(uri, "modes", "hybrid1").info.run_id, "x") == expected
    finally:
        if follower.proc.poll() is None:
            follower.proc.kill()
            follower.proc.wait(10)
        server.stop()


def test_hybrid_finish_returns_at_once_when_the_follower_finds_the_server_down(
        tmp_path: Path) -> None:
    # the follower itself writes sync/follow.state (no server ever listens here); the
    # catching up once a server appears is the test above
    uri = f"http://127.0.0.1:{free_port()}"
    run = logwriter.init(project="modes", id="hybrid-down", dir=tmp_path / "runs",
                         mode="hybrid", server=uri, **QUIET)
    follower = run._follower
    assert follower is not None
    try:
        run.log({"x": 1.0})
        t0 = time.monotonic()
        with pytest.warns(SyncWarning, match=r"does not answer: cannot reach the MLflow server"):
            run.finish()
        took = time.monotonic() - t0
        assert follower.proc.poll() is None  # still retrying by itself
    finally:
        follower.proc.terminate()
        follower.proc.wait(30)
    assert took < 3.0, took  # not its whole sync_timeout (5 s)


# -- runwal follow, by hand -------------------------------------------------


def test_follow_stops_on_sigterm_and_sync_resumes(tmp_path: Path, mlflow_uri: str) -> None:
    rd = write_run(tmp_path, "live1", training_records(300, status=None), project="modes")
    proc = subprocess.Popen([sys.executable, "-m", "syncer.cli", "follow", str(rd), "--to",
                             mlflow_uri, "--poll-interval", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready"
        ckpt = rd / ready[1]
        deadline = time.monotonic() + 60
        while not (ckpt.exists() and json.loads(ckpt.read_text())["seq"] == 301):
            assert time.monotonic() < deadline, "the follower never caught up"
            time.sleep(0.1)
        assert proc.poll() is None  # no EXIT record: still following
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    srv = server_run(mlflow_uri, "modes", "live1")
    assert srv.info.status == "RUNNING"
    assert len(metric_rows(mlflow_uri, srv.info.run_id, "loss")) == 300


def test_sync_skips_a_run_another_syncer_holds(tmp_path: Path, mlflow_uri: str) -> None:
    rd = write_run(tmp_path, "locked1", training_records(5), project="modes")
    with open_server(mlflow_uri, workers=1, connect_timeout=5, deadline=30) as rest:
        with SyncLock(rd, sink_name_for(mlflow_uri)) as lock:
            assert lock.acquire()
            res = sync_path(rd, rest)
            assert res.status == "skipped" and res.busy and f"process {os.getpid()}" in res.reason
        assert RunDir.open(rd).sync_dir.is_dir()
        res = sync_path(rd, rest)
    assert res.status == "synced" and res.finished
