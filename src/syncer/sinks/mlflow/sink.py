"""The MLflow sink: one runwal run -> one MLflow run, written idempotently.

Finding the run: the checkpoint's server run id; without a checkpoint, a
search for tag ``runwal.run_id`` in the project's experiment (so a lost
checkpoint resumes the same run instead of creating a duplicate); otherwise
runs/create with the WAL's start time and that tag set atomically.

Sending: records are mapped by mlflow_map into params, tags, metrics, files
and console text. Params and tags go first (100 per request), then metrics in
1000-row requests run a few at a time in parallel (the server's ingest ceiling
needs several connections). A request refused with 400 is split in halves
until the offending items are isolated; those become `Rejection`s and the rest
is delivered. Console text is appended to ``sync/<sink>.output.log`` (truncated
back to the checkpointed length on open, so a crash never doubles it) and
uploaded as ``output.log`` at the end of every pass.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from schema.records import Record
from schema.uri import public_uri
from syncer.engine.checkpoint import sink_file_name
from syncer.sinks.base import Rejection, ResumeFrom, RunIdentity
from syncer.sinks.mlflow.mapping import MapState, Plan, map_record, ts_ms
from syncer.sinks.mlflow.rest import MlflowRest
from syncer.sync_errors import (
    ArtifactsUnsupported,
    AuthFailed,
    RunGone,
    ServerRejected,
    SyncError,
)

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
DEFAULT_EXPERIMENT = "runwal"
RUN_ID_TAG = "runwal.run_id"
STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "preempted": "KILLED"}
_SPLITTABLE = frozenset({400, 413, 422})


def sink_name_for(uri: str) -> str:
    """Checkpoint name for a server: ``mlflow-<host>_<port>`` (one file per server)."""
    parts = urlsplit(public_uri(uri))
    where = (parts.netloc + parts.path).replace(":", "_").replace("/", "_")
    return sink_file_name(f"mlflow-{where}")


class MlflowSink:
    """Sink for one run. ``rest`` may be shared by the sinks of many runs."""

    def __init__(
        self, rest: MlflowRest, *, parallel: int = 4, default_experiment: str = DEFAULT_EXPERIMENT
    ):
        self.rest = rest
        self.uri = public_uri(rest.uri)
        self.name = sink_name_for(rest.uri)
        self.parallel = max(1, parallel)
        self.default_experiment = default_experiment
        self._run_id = ""
        self._exp_id = ""
        self._artifact_root: str | None = None
        self._params: dict[str, str] = {}
        self._map = MapState()
        self._spool: Path | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._files_dir = Path(".")
        self.points_sent = 0  # metric rows acknowledged by the server (cumulative)
        self.values_skipped = 0  # non-numeric history/stats values (not metrics)

    @property
    def server_run_id(self) -> str:
        return self._run_id

    @property
    def experiment_id(self) -> str:
        return self._exp_id

    # -- run lookup --------------------------------------------------------
    def experiment(self, name: str) -> str:
        exp = self.rest.get_experiment_by_name(name)
        if exp is None:
            created = self.rest.create_experiment(name)
            if created is not None:
                return created
            exp = self.rest.get_experiment_by_name(name)  # lost a creation race
        if exp is None:
            raise ServerRejected(f"experiment {name!r} could not be created or found")
        if exp.get("lifecycle_stage") == "deleted":
            raise ServerRejected(
                f"experiment {name!r} is deleted on the server",
                hint="restore it in the MLflow UI or pick another project name",
            )
        return str(exp["experiment_id"])

    def find_run(self, experiment_id: str, run_id: str) -> dict[str, Any] | None:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", run_id):
            return None  # cannot be quoted safely in a filter; create instead
        runs = self.rest.search_runs(experiment_id, f"tags.`{RUN_ID_TAG}` = '{run_id}'")
        runs.sort(key=lambda r: int(r.get("info", {}).get("start_time") or 0))
        return runs[0] if runs else None

    def open_run(
        self, identity: RunIdentity, run_record: Record | None, resume: ResumeFrom | None
    ) -> None:
        run: dict[str, Any] | None = None
        if resume is not None:
            run = self.rest.get_run(resume.server_run_id)
            if run is None or run.get("info", {}).get("lifecycle_stage") == "deleted":
                raise RunGone(f"server run {resume.server_run_id} no longer exists")
            self._exp_id = resume.experiment_id
            self._map = MapState.from_json(resume.state)
        else:
            self._exp_id = self.experiment(identity.project or self.default_experiment)
            run = self.find_run(self._exp_id, identity.run_id)
            self._map = MapState()
            if run is None:
                start = run_record.ts if run_record is not None else identity.created
                run = self.rest.create_run(
                    self._exp_id,
                    identity.name or identity.run_id,
                    ts_ms(start if start is not None else 0.0),
                    {RUN_ID_TAG: identity.run_id},
                )
        info = run.get("info", {})
        self._run_id = str(info.get("run_id") or info.get("run_uuid"))
        self._artifact_root = _artifact_root(str(info.get("artifact_uri", "")))
        params = run.get("data", {}).get("params", [])
        self._params = {p["key"]: p.get("value", "") for p in params if "key" in p}
        self._files_dir = identity.run_dir.files_dir
        self._spool = identity.run_dir.sync_dir / f"{self.name}.output.log"
        self._trim_spool()

    def _trim_spool(self) -> None:
        assert self._spool is not None
        self._spool.parent.mkdir(exist_ok=True)
        size = self._spool.stat().st_size if self._spool.exists() else 0
        if size > self._map.console_bytes:
            os.truncate(self._spool, self._map.console_bytes)
        elif size < self._map.console_bytes:
            # The spool was lost; keep counting from what exists.
            self._map.console_bytes = self._map.console_uploaded = size

    # -- sending -----------------------------------------------------------
    def send(self, records: list[Record]) -> list[Rejection]:
        plan = Plan()
        for rec in records:
            map_record(plan, rec, self._map, self._params)
        out = [Rejection(s, k, r) for s, k, r in plan.rejected]
        if plan.reopen:
            self.rest.update_run(self._run_id, status="RUNNING")
        params = [(s, {"key": k, "value": v}) for k, (s, v) in plan.params.items()]
        tags = [(s, {"key": k, "value": v}) for k, (s, v) in plan.tags.items()]
        for i in range(0, len(params), MAX_PARAMS):
            out += self._log("params", params[i : i + MAX_PARAMS])
        refused = {r.key.removeprefix("param ") for r in out}
        self._params.update({k: v for k, (_, v) in plan.params.items() if k not in refused})
        for i in range(0, len(tags), MAX_TAGS):
            out += self._log("tags", tags[i : i + MAX_TAGS])
        rows = plan.metrics
        chunks = [rows[i : i + MAX_METRICS] for i in range(0, len(rows), MAX_METRICS)]
        if len(chunks) > 1:
            for got in self._executor().map(lambda c: self._log("metrics", c), chunks):
                out += got
        elif chunks:
            out += self._log("metrics", chunks[0])
        for seq, path in plan.files:
            out += self._upload_file(seq, path)
        if plan.console:
            data = "".join(plan.console).encode("utf-8", "replace")
            assert self._spool is not None
            with open(self._spool, "ab") as fh:
                fh.write(data)
            self._map.console_bytes += len(data)
        self.values_skipped += plan.skipped_values
        self.points_sent += plan.points - sum(r.key.startswith("metric ") for r in out)
        return out

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="runwal-sink")
        return self._pool

    def _log(self, kind: str, items: list[tuple[int, dict[str, Any]]]) -> list[Rejection]:
        """Send ``items`` in one request; on a 400 bisect to isolate the bad ones."""
        try:
            self.rest.log_batch(self._run_id, **{kind: [p for _, p in items]})
            return []
        except AuthFailed:
            raise
        except ServerRejected as exc:
            if exc.status not in _SPLITTABLE:
                raise
            if "active" in str(exc) and "state" in str(exc):
                raise RunGone(f"server run {self._run_id} is not active: {exc}") from exc
            if len(items) == 1:
                seq, item = items[0]
                return [Rejection(seq, f"{kind[:-1]} {item['key']}", _reason(exc))]
        half = len(items) // 2
        return self._log(kind, items[:half]) + self._log(kind, items[half:])

    def _upload_file(self, seq: int, path: str) -> list[Rejection]:
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts:
            return [Rejection(seq, f"file {path}", "path escapes files/")]
        local = self._files_dir / rel
        if not local.is_file():
            return [Rejection(seq, f"file {path}", f"missing on disk: {local}")]
        try:
            self._put(str(rel), file=str(local))
        except (ArtifactsUnsupported, ServerRejected) as exc:
            if isinstance(exc, AuthFailed):
                raise
            return [Rejection(seq, f"file {path}", _reason(exc))]
        return []

    def _put(self, path: str, *, data: bytes | None = None, file: str | None = None) -> None:
        if self._artifact_root is None:
            raise ArtifactsUnsupported("the server run has no mlflow-artifacts: artifact URI")
        self.rest.put_artifact(self._artifact_root, path, data=data, file=file)

    def end_pass(self) -> list[Rejection]:
        out: list[Rejection] = []
        if self._map.console_bytes > self._map.console_uploaded and self._spool is not None:
            try:
                self._put("output.log", file=str(self._spool))
                self._map.console_uploaded = self._map.console_bytes
            except (ArtifactsUnsupported, ServerRejected) as exc:
                if isinstance(exc, AuthFailed):
                    raise
                out.append(Rejection(-1, "output.log", _reason(exc)))
        if self._map.config_dirty:
            body = json.dumps(self._map.config, indent=2, sort_keys=True, default=str)
            try:
                self._put("config.json", data=body.encode())
                self._map.config_dirty = False
            except (ArtifactsUnsupported, ServerRejected) as exc:
                if isinstance(exc, AuthFailed):
                    raise
                out.append(Rejection(-1, "config.json", _reason(exc)))
        return out

    def finish(self, exit_record: Record) -> list[Rejection]:
        out = self.end_pass()
        body = exit_record.body if isinstance(exit_record.body, dict) else {}
        status = STATUS.get(str(body.get("status", "finished")), "FAILED")
        self.rest.update_run(self._run_id, status=status, end_time_ms=ts_ms(exit_record.ts))
        return out

    def state(self) -> dict[str, Any]:
        return self._map.to_json()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _artifact_root(artifact_uri: str) -> str | None:
    """``mlflow-artifacts:/1/abc/artifacts`` -> ``1/abc/artifacts``; None if not proxied."""
    parts = urlsplit(artifact_uri)
    if parts.scheme != "mlflow-artifacts":
        return None
    return parts.path.strip("/") or None


def _reason(exc: SyncError) -> str:
    text = str(exc)
    return text.split(" (hint:")[0][-300:]
