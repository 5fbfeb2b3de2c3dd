"""Helpers for the media, artifact and step_metric sync tests: a sink whose PUTs
are counted, the server's artifact tree read back by REST, and a reference run
logged with MLflow's own client to compare layouts with."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from syncer.engine.replay import sync_run
from syncer.engine.result import SyncResult
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.sink import MlflowSink


class CountingRest:
    """An `MlflowRest` whose artifact PUTs are counted per path."""

    def __init__(self, uri: str, http: httpx.Client):
        self.puts: Counter[str] = Counter()
        self._lock = threading.Lock()  # uploads run in threads
        http.event_hooks["request"].append(self._hook)
        self.rest = MlflowRest(uri, http)

    def _hook(self, request: httpx.Request) -> None:
        if request.method == "PUT":
            with self._lock:
                self.puts[httpx.URL(str(request.url)).path.split("/artifacts/", 2)[-1]] += 1

    def sync(self, rd: Path) -> SyncResult:
        sink = MlflowSink(self.rest)
        try:
            return sync_run(rd, sink)
        finally:
            sink.close()

    def synced(self, rd: Path) -> SyncResult:
        """`sync`, asserting that the whole run went up (synced, nothing rejected)."""
        res = self.sync(rd)
        assert res.status == "synced" and not res.rejected, res
        return res


@contextmanager
def counting_rest(uri: str) -> Iterator[CountingRest]:
    with build_client() as http:
        yield CountingRest(uri, http)


def tree(uri: str, run_id: str, path: str = "") -> dict[str, int]:
    """Every artifact file of a run under ``path``: {path: size}."""
    out: dict[str, int] = {}
    todo = [path]
    while todo:
        here = todo.pop()
        params = {"run_id": run_id, **({"path": here} if here else {})}
        got = httpx.get(f"{uri}/api/2.0/mlflow/artifacts/list", params=params).json()
        for f in got.get("files", []):
            if f.get("is_dir"):
                todo.append(f["path"])
            else:
                out[f["path"]] = int(f.get("file_size", 0))
    return out


def download(uri: str, run_id: str, path: str) -> bytes:
    run = httpx.get(f"{uri}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()
    root = run["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    resp = httpx.get(f"{uri}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}")
    resp.raise_for_status()
    return resp.content


def mlflow_client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def reference_run(uri: str, experiment: str) -> tuple[Any, str]:
    """(MlflowClient, run id) of a new run for MLflow's own client to log into."""
    c = mlflow_client(uri)
    exp = c.get_experiment_by_name(experiment)
    eid = exp.experiment_id if exp else c.create_experiment(experiment)
    return c, c.create_run(eid).info.run_id


def tags(uri: str, run_id: str) -> dict[str, str]:
    return dict(mlflow_client(uri).get_run(run_id).data.tags)


def history(uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in mlflow_client(uri).get_metric_history(run_id, key))
