"""The MLflow sink: one runwal run -> one MLflow run, written idempotently.

Finding the run: the checkpoint's server run id; without a checkpoint, a
search for tag ``runwal.run_id`` in the project's experiment (so a lost
checkpoint resumes the same run instead of creating a duplicate); otherwise
runs/create with the WAL's start time and that tag set atomically.

Sending: records are mapped by `syncer.sinks.mlflow.mapping` into params,
tags, metrics, files and console text. Params and tags go first (100 per request), then metrics in
1000-row requests run a few at a time in parallel (the server's ingest ceiling
needs several connections). A request refused with 400 is split in halves
until the offending items are isolated; those become `Rejection`s and the rest
is delivered. Console text is appended to ``sync/<sink>.output.log`` (truncated
back to the checkpointed length on open, so a crash never doubles it) and
uploaded as ``output.log`` at the end of every pass.

What fails the pass instead of becoming a `Rejection` is decided by class:
`AuthFailed` and `RunGone` always (every later request would fail the same
way), any other `ServerRejected` when it cannot be pinned on one item.
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
from syncer.errors import ArtifactsUnsupported, AuthFailed, RunGone, ServerRejected, SyncError
from syncer.sinks.base import Refused, Rejection, ResumeFrom, RunIdentity
from syncer.sinks.mlflow.mapping import MapState, Plan, map_record, ts_ms
from syncer.sinks.mlflow.rest import MlflowRest

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
DEFAULT_EXPERIMENT = "runwal"
RUN_ID_TAG = "runwal.run_id"
STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "preempted": "KILLED"}
_SPLITTABLE = frozenset({400, 413, 422})
_FATAL = (AuthFailed, RunGone)  # never pinned on one item: the whole pass fails
_BATCH_FIELD = {Refused.METRIC: "metrics", Refused.PARAM: "params", Refused.TAG: "tags"}


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
        out = list(plan.rejected)
        if plan.reopen:
            self.rest.update_run(self._run_id, status="RUNNING")
        params = [(s, {"key": k, "value": v}) for k, (s, v) in plan.params.items()]
        tags = [(s, {"key": k, "value": v}) for k, (s, v) in plan.tags.items()]
        for i in range(0, len(params), MAX_PARAMS):
            out += self._log(Refused.PARAM, params[i : i + MAX_PARAMS])
        refused = {r.key for r in out if r.what is Refused.PARAM}
        self._params.update({k: v for k, (_, v) in plan.params.items() if k not in refused})
        for i in range(0, len(tags), MAX_TAGS):
            out += self._log(Refused.TAG, tags[i : i + MAX_TAGS])
        rows = plan.metrics
        chunks = [rows[i : i + MAX_METRICS] for i in range(0, len(rows), MAX_METRICS)]
        if len(chunks) > 1:
            for got in self._executor().map(lambda c: self._log(Refused.METRIC, c), chunks):
                out += got
        elif chunks:
            out += self._log(Refused.METRIC, chunks[0])
        for seq, path in plan.files:
            out += self._upload_file(seq, path)
        if plan.console:
            data = "".join(plan.console).encode("utf-8", "replace")
            assert self._spool is not None
            with open(self._spool, "ab") as fh:
                fh.write(data)
            self._map.console_bytes += len(data)
        self.values_skipped += plan.skipped_values
        self.points_sent += plan.points - sum(r.what is Refused.METRIC for r in out)
        return out

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="runwal-sink")
        return self._pool

    def _log(self, what: Refused, items: list[tuple[int, dict[str, Any]]]) -> list[Rejection]:
        """Send ``items`` in one request; on a 400 bisect to isolate the bad ones."""
        try:
            self.rest.log_batch(self._run_id, **{_BATCH_FIELD[what]: [p for _, p in items]})
            return []
        except _FATAL:
            raise
        except ServerRejected as exc:
            if exc.status not in _SPLITTABLE:
                raise
            if len(items) == 1:
                seq, item = items[0]
                return [Rejection(seq, what, item["key"], _reason(exc))]
        half = len(items) // 2
        return self._log(what, items[:half]) + self._log(what, items[half:])

    def _upload_file(self, seq: int, path: str) -> list[Rejection]:
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts:
            return [Rejection(seq, Refused.FILE, path, "path escapes files/")]
        local = self._files_dir / rel
        if not local.is_file():
            return [Rejection(seq, Refused.FILE, path, f"missing on disk: {local}")]
        try:
            self._put(str(rel), file=str(local))
        except _FATAL:
            raise
        except (ArtifactsUnsupported, ServerRejected) as exc:
            return [Rejection(seq, Refused.FILE, path, _reason(exc))]
        return []

    def _put(self, path: str, *, data: bytes | None = None, file: str | None = None) -> None:
        if self._artifact_root is None:
            raise ArtifactsUnsupported("the server run has no mlflow-artifacts: artifact URI")
        self.rest.put_artifact(self._artifact_root, path, data=data, file=file)

    def end_pass(self) -> list[Rejection]:
        out: list[Rejection] = []
        spool = self._spool
        pending = spool is not None and self._map.console_bytes > self._map.console_uploaded
        if pending and self._artifact("output.log", out, file=str(spool)):
            self._map.console_uploaded = self._map.console_bytes
        if self._map.config_dirty:
            body = json.dumps(self._map.config, indent=2, sort_keys=True, default=str)
            if self._artifact("config.json", out, data=body.encode()):
                self._map.config_dirty = False
        return out

    def _artifact(
        self, name: str, out: list[Rejection], *, data: bytes | None = None, file: str | None = None
    ) -> bool:
        """Upload one artifact of the sink's own; a refusal goes to ``out``."""
        try:
            self._put(name, data=data, file=file)
        except _FATAL:
            raise
        except (ArtifactsUnsupported, ServerRejected) as exc:
            out.append(Rejection(-1, Refused.ARTIFACT, name, _reason(exc)))
            return False
        return True

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
    """What a `Rejection` records: the error without its hint, at most 300 chars."""
    return exc.message[-300:]
