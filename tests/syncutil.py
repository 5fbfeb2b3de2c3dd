"""Helpers for the sync tests: typical training records, and reading a server
back with MlflowClient (tests only; runwal never imports mlflow). Run dirs are
built by tests/runbuilder.py, the one run builder (re-exported here)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from runbuilder import T0, append_segment, write_run
from schema.records import RecordType
from syncer.engine.replay import sync_run
from syncer.engine.result import SyncResult
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.retry import RetryPolicy
from syncer.sinks.mlflow.sink import MlflowSink

R = RecordType
FAST = RetryPolicy(base=0.01, cap=0.05, deadline=10.0)  # retries that keep a test quick


def run_with(rd: os.PathLike[str] | str, uri: str,
             transport: httpx.BaseTransport | None = None,
             retry: RetryPolicy = FAST) -> SyncResult:
    """One `sync_run` pass of ``rd`` with a sink of its own over a fresh client
    (``transport`` to put a fault or a mock between it and the server)."""
    with build_client(transport=transport) as http:
        sink = MlflowSink(MlflowRest(uri, http, retry=retry))
        try:
            return sync_run(rd, sink)
        finally:
            sink.close()


def training_records(
    steps: int,
    keys: Sequence[str] = ("loss", "acc"),
    *,
    status: str | None = "finished",
    config: dict[str, Any] | None = None,
) -> list[tuple[int, float, Any]]:
    """RUN, CONFIG, ``steps`` HISTORY records (ts 10 ms apart), then EXIT."""
    recs: list[tuple[int, float, Any]] = [
        (
            R.RUN,
            T0,
            {
                "host": "h1",
                "user": "alice",
                "argv": ["train.py", "--lr", "1"],
                "git": {
                    "commit": "abc123",
                    "branch": "main",
                    "remote": "https://example.com/r.git",
                },
                "notes": "a note",
                "tags": ["baseline"],
                "group": "g1",
                "job_type": "train",
            },
        ),
        (
            R.CONFIG,
            T0 + 0.001,
            config if config is not None else {"lr": 0.1, "opt": {"name": "sgd"}},
        ),
    ]
    for s in range(steps):
        recs.append(
            (
                R.HISTORY,
                T0 + 0.01 * (s + 1),
                {"step": s, "data": {k: float(s) + i / 10 for i, k in enumerate(keys)}},
            )
        )
    if status is not None:
        recs.append(
            (R.EXIT, T0 + 0.01 * (steps + 2), {"code": 0, "status": status, "runtime": 1.0})
        )
    return recs


def client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def runs_tagged(uri: str, experiment: str, run_id: str) -> list[Any]:
    c = client(uri)
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return list(c.search_runs([exp.experiment_id], f"tags.`runwal.run_id` = '{run_id}'"))


def artifact(uri: str, server_run_id: str, path: str) -> bytes:
    """Download one artifact through the server's proxy (MlflowClient's downloader
    leaves a thread pool running, which the leak fixture rightly flags)."""
    import httpx

    run = httpx.get(f"{uri}/api/2.0/mlflow/runs/get", params={"run_id": server_run_id}).json()
    root = run["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    resp = httpx.get(f"{uri}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}")
    resp.raise_for_status()
    return resp.content


def artifact_names(uri: str, server_run_id: str) -> set[str]:
    import httpx

    resp = httpx.get(f"{uri}/api/2.0/mlflow/artifacts/list", params={"run_id": server_run_id})
    return {f["path"] for f in resp.json().get("files", [])}


__all__ = ["T0", "R", "append_segment", "artifact", "artifact_names", "client", "runs_tagged",
           "training_records", "write_run"]


def suite_test(relpath: str, name: str) -> Callable[..., Any]:
    """Test function ``name`` of the test module at ``tests/<relpath>``, to run again
    against another server (test_postgres.py): by path, since the test folders mirror
    src/ and one folder's modules are not importable by name from another's."""
    path = Path(__file__).resolve().parent / relpath
    module_name = f"_suite_{path.stem}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    test: Callable[..., Any] = getattr(module, name)
    return test
