"""``runwal ui DIR``: a local MLflow plus a syncd into it, both stopped by Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncer.sinks.mlflow.loopback_server import free_port
from syncutil import client, runs_tagged, training_records, write_run


def start_ui(runs: Path, store: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "syncer.cli", "ui", str(runs), "--store",
                             str(store), *extra], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the server starts first: this waits for it
    assert line.startswith("MLflow UI at http://127.0.0.1:"), line
    return proc, line.split()[3]


def wait_for(check: object, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail("timed out")


@pytest.mark.server
def test_ui_serves_the_runs_stops_on_ctrl_c_and_syncs_nothing_twice(tmp_path: Path) -> None:
    runs, store = tmp_path / "runs", tmp_path / "store"
    write_run(runs, "ui000001", training_records(100), project="p-ui")
    proc, uri = start_ui(runs, store, "--port", str(free_port()))
    try:
        wait_for(lambda: len(runs_tagged(uri, "p-ui", "ui000001")) == 1
                 and runs_tagged(uri, "p-ui", "ui000001")[0].info.status == "FINISHED")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert json.loads((store / "ui.json").read_text())["port"] == int(uri.rsplit(":", 1)[1])
    ckpt = next((runs / "ui000001" / "sync").glob("*.json")).read_text()

    again, uri2 = start_ui(runs, store)  # the port remembered: the checkpoints still apply
    try:
        assert uri2 == uri
        (run,) = runs_tagged(uri, "p-ui", "ui000001")
        assert len(client(uri).get_metric_history(run.info.run_id, "loss")) == 100
        time.sleep(2)  # syncd's first scan has looked at the run by now
        assert next((runs / "ui000001" / "sync").glob("*.json")).read_text() == ckpt
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=90)
    assert again.returncode == 0


def test_ui_on_a_port_another_server_holds_fails_and_sends_it_nothing(
        tmp_path: Path, mlflow_uri: str) -> None:
    """Another user's MLflow on the port asked for: one line, exit 1, and not a single
    run of ours reaches that server (it used to receive them all)."""
    runs, store = tmp_path / "runs", tmp_path / "store"
    write_run(runs, "uiclash1", training_records(10), project="p-ui-clash")
    port = mlflow_uri.rsplit(":", 1)[1]
    proc = subprocess.run([sys.executable, "-m", "syncer.cli", "ui", str(runs), "--store",
                           str(store), "--port", port], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is in use" in lines[0], lines
    assert "MLflow UI at" not in proc.stderr
    assert runs_tagged(mlflow_uri, "p-ui-clash", "uiclash1") == []
    assert not (runs / "uiclash1" / "sync").exists()
