"""Helpers for the sync tests: build run directories with the schema API and
read a server back with MlflowClient (tests only; runwal never imports mlflow)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from schema.frame import split_frames
from schema.records import RecordType, pack_record
from schema.segment import SegmentHeader, segment_name

T0 = 1_700_000_000.0
R = RecordType


def write_run(
    root: Path,
    run_id: str,
    records: Iterable[tuple[int, float, Any]],
    *,
    project: str | None = None,
    name: str | None = None,
    base_seq: int = 0,
) -> Path:
    """A run dir with one segment holding ``records`` ([type, ts, body], seq from base_seq)."""
    rd = root / run_id
    (rd / "log").mkdir(parents=True, exist_ok=True)
    (rd / "files").mkdir(exist_ok=True)
    ident = {
        "run_id": run_id,
        "project": project,
        "name": name or run_id,
        "created": T0,
        "format": 1,
    }
    if not (rd / "run.json").exists():
        (rd / "run.json").write_text(json.dumps(ident))
    append_segment(rd, records, base_seq=base_seq)
    return rd


def append_segment(rd: Path, records: Iterable[tuple[int, float, Any]], *, base_seq: int) -> Path:
    head = SegmentHeader.new(base_seq)
    packed = [pack_record(t, ts, body) for t, ts, body in records]
    path = rd / "log" / segment_name(base_seq)
    with open(path, "wb") as fh:
        fh.write(head.encode())
        for frame in split_frames(packed, base_seq, head.seed):
            fh.write(frame)
    return path


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
