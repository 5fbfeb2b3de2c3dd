"""Tracking URIs on every path into the sync commands (``--to`` of sync, syncd and
follow, and RUNWAL_SERVER): a valid one in any case works, a bad one is one line
on stderr and exit 2, never a traceback, never the password."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncer.cli.main import main
from syncutil import runs_tagged, training_records, write_run

SECRET = "S3CRETpw"
BAD = [
    f"htp://u:{SECRET}@host",
    f"http://u:{SECRET}@127.0.0.1:99999",
    f"http://u:{SECRET}@h:5000:99",
    "http://h:5000:99",
    "http://[::1",
    f"http://u:{SECRET}@[::1",
    f"ftp://u:{SECRET}@host/x",
    f"http://u:{SECRET}@",
    "127.0.0.1:5000",
]
COMMANDS = [("sync",), ("sync", "--dry-run"), ("syncd", "--once"), ("syncd",), ("follow",)]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "runs", "uri00001", training_records(3), project="rel-uri")


@pytest.mark.parametrize("uri", BAD)
@pytest.mark.parametrize("via", ["--to", "RUNWAL_SERVER"])
def test_a_bad_uri_is_one_line_and_exit_2_on_every_command(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, uri: str, via: str
) -> None:
    for name in ("RUNWAL_SERVER", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    for command in COMMANDS:
        args = [*command, str(run_dir)]
        env = {}
        if via == "--to":
            args += ["--to", uri]
        else:
            env["RUNWAL_SERVER"] = uri
        res = runner.invoke(main, args, env=env)
        shown = f"{command} {via} {uri}: {res.output!r} {res.exception!r}"
        assert res.exit_code == 2, shown
        assert res.stdout == "", shown
        assert res.stderr.startswith("runwal: error: ") and res.stderr.count("\n") == 1, shown
        assert SECRET not in res.stderr and "Traceback" not in res.stderr, shown
        assert "URI" in res.stderr, shown
    assert not (run_dir / "sync").exists()


def test_an_upper_case_scheme_with_credentials_syncs_and_stores_no_password(
    tmp_path: Path, mlflow_uri: str
) -> None:
    host = mlflow_uri.removeprefix("http://")
    rd = write_run(tmp_path / "runs", "uri00002", training_records(5), project="rel-uri")
    with_creds = f"HTTP://u:{SECRET}@{host}"
    env = {"RUNWAL_SERVER": with_creds, "PATH": "/usr/bin:/bin"}
    for extra, environ in (([], env), (["--to", with_creds], None)):
        proc = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(rd), "--json",
                               *extra], capture_output=True, text=True, timeout=120, env=environ)
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
        (res,) = json.loads(proc.stdout)["runs"]
        assert res["status"] in ("synced", "skipped"), res
    (ckpt,) = (rd / "sync").glob("*.json")
    assert json.loads(ckpt.read_text())["uri"] == mlflow_uri
    for f in (rd / "sync").iterdir():
        assert SECRET not in f.read_text(errors="replace")
    assert len(runs_tagged(mlflow_uri, "rel-uri", "uri00002")) == 1
