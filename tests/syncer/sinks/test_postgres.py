"""Exactly once against MLflow's production shape: PostgreSQL behind ``--workers 4``.

The SQLite suite proves the rules; these re-run the most telling of them where
they are most likely to break: four server processes answering one syncer's
parallel requests over a real database (tests/pgserver.py). Chosen for cost:
the end-to-end mapping with a lost checkpoint, kill -9 mid-upload, every
runs/create answer lost, and two syncers started on one run at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncutil import client, runs_tagged, suite_test, training_records, write_run

_creates_lost = suite_test("syncer/sinks/test_reliability_server.py",
                           "test_every_runs_create_answer_lost_still_makes_one_run")
_kill_minus_9 = suite_test("syncer/cli/test_sync_cli.py",
                           "test_kill_minus_9_mid_upload_then_exact")
_end_to_end = suite_test("syncer/engine/test_sync_e2e.py", "test_end_to_end_exact")


def test_end_to_end_and_a_lost_checkpoint_on_postgres(tmp_path: Path, pg_mlflow_uri: str) -> None:
    with build_client() as http:
        _end_to_end(tmp_path, MlflowRest(pg_mlflow_uri, http), pg_mlflow_uri)


def test_kill_minus_9_mid_upload_on_postgres(tmp_path: Path, pg_mlflow_uri: str) -> None:
    _kill_minus_9(tmp_path, pg_mlflow_uri)


def test_every_runs_create_answer_lost_on_postgres(tmp_path: Path, pg_mlflow_uri: str) -> None:
    _creates_lost(tmp_path, pg_mlflow_uri)


def test_two_syncers_at_once_make_one_run_and_name_each_other(
    tmp_path: Path, pg_mlflow_uri: str
) -> None:
    """Two `runwal sync` started together on the same runs: each run is synced by one of
    them, the other says which command holds it, and the server has every row once."""
    runs = [write_run(tmp_path, f"twice{i:03d}", training_records(3000), project="pg-twice")
            for i in range(4)]
    cmd = [sys.executable, "-m", "syncer.cli", "sync", *map(str, runs), "--to", pg_mlflow_uri,
           "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    results = [r for out, _ in outs for r in json.loads(out)["runs"]]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    busy = [r for r in results if r["reason"].startswith("busy")]
    assert all("another `runwal sync` (process" in r["reason"] for r in busy), busy
    c = client(pg_mlflow_uri)
    for rd in runs:
        (run,) = runs_tagged(pg_mlflow_uri, "pg-twice", rd.name)
        assert run.info.status == "FINISHED"
        assert len(c.get_metric_history(run.info.run_id, "loss")) == 3000


def test_a_postgres_that_does_not_start_fails_instead_of_skipping() -> None:
    """Only missing binaries or driver skip the PostgreSQL tests; a server that is there
    and does not start (here: its port is taken) is an error with its log's last lines."""
    import socket

    import pytest

    import pgserver

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        pg = pgserver.LocalPostgres(port=taken.getsockname()[1])
        try:
            with pytest.raises(pgserver.PostgresStartFailed, match="exited early"):
                pg.start(timeout=60)
        finally:
            pg.stop()
    assert not issubclass(pgserver.PostgresStartFailed, pgserver.PostgresUnavailable)
