"""The MLflow sink: one runwal run -> one MLflow run, written idempotently.

Finding the run: the checkpoint's server run id; without a checkpoint, the
run tagged ``runwal.run_id``, created exactly once if there is none
(`syncer.sinks.mlflow.runs`).

Sending: records are mapped by `syncer.sinks.mlflow.mapping` into params,
tags, metrics, files and console text; keys MLflow would refuse are dropped
and reported once each before anything is sent (`syncer.sinks.mlflow.names`).
Params, tags and metrics go in log-batch requests (`syncer.sinks.mlflow.logbatch`:
a small run's batch is one request, metrics chunks in parallel, a request
refused with 400 bisected until the offending items are `Rejection`s). Files are
read only from inside ``files/`` (`syncer.runfiles`: links and ``..``
are refused per file). Console text goes to the spool
(`syncer.sinks.mlflow.spool`), uploaded as ``output.log`` at the end of every
pass. Media and artifact files go up with their batch
(`syncer.sinks.mlflow.uploads`: content-addressed ones once per run).

Every request is harmless to repeat when its answer was lost (a log-batch
holding params, tags and metrics together is harmless for each): log-batch rows
are stored once per (key, value, timestamp, step); a param re-sent with the
value the server has is accepted (a 200, measured on MLflow 3.17); tags and
runs/update overwrite with the same value; an artifact PUT overwrites the
same path; the two creates are looked up instead of repeated.

What fails the pass instead of becoming a `Rejection` is decided by class:
`AuthFailed` and `RunGone` always (every later request would fail the same
way), any other `ServerRejected` when it cannot be pinned on one item.

A resumed pass skips its runs/get when the server's `KnownRuns`
(`syncer.sinks.mlflow.knownruns`) holds what the last pass saw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from schema.records import Record
from schema.uri import public_uri
from syncer.errors import ArtifactsUnsupported, RunGone, RunMoved, ServerRejected
from syncer.runfiles import RefusedPath, open_run_file
from syncer.sinks.base import Refused, Rejection, ResumeFrom, RunIdentity, sink_file_name
from syncer.sinks.mlflow import runs
from syncer.sinks.mlflow.knownruns import KnownRuns
from syncer.sinks.mlflow.logbatch import FATAL, LogBatches, reason
from syncer.sinks.mlflow.mapping import MapState, Plan, map_record, ts_ms
from syncer.sinks.mlflow.names import screen
from syncer.sinks.mlflow.rest import MlflowRest
from syncer.sinks.mlflow.spool import Spool
from syncer.sinks.mlflow.uploads import Uploader
from syncer.streams import namespaced

DEFAULT_EXPERIMENT = "runwal"
RUN_ID_TAG = runs.RUN_ID_TAG
STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "preempted": "KILLED"}


def sink_name_for(uri: str) -> str:
    """Checkpoint name for a server: ``mlflow-<host>_<port>`` (one file per server)."""
    parts = urlsplit(public_uri(uri))
    where = (parts.netloc + parts.path).replace(":", "_").replace("/", "_")
    return sink_file_name(f"mlflow-{where}")


class MlflowSink:
    """Sink for one run. ``rest`` (and ``known``) may be shared by the sinks of many runs."""

    def __init__(
        self, rest: MlflowRest, *, parallel: int = 4, default_experiment: str = DEFAULT_EXPERIMENT,
        known: KnownRuns | None = None,
    ):
        self.rest = rest
        self.known = known
        self.uri = public_uri(rest.uri)
        self.name = sink_name_for(rest.uri)
        self.parallel = max(1, parallel)
        self._batches = LogBatches(rest, self.parallel)  # params, tags, metrics (logbatch.py)
        self.default_experiment = default_experiment
        self._run_id = ""
        self._exp_id = ""
        self._artifact_root: str | None = None
        self._params: dict[str, str] = {}
        self._map = MapState()
        self._spool: Spool | None = None
        self._uploader: Uploader | None = None  # media and artifact files (uploads.py)
        self._run_dir = Path(".")
        self.points_sent = 0  # metric rows acknowledged by the server (cumulative)
        self.values_skipped = 0  # non-numeric history/stats values (not metrics)
        self.label = ""  # a shared run's non-primary stream (for_stream)
        self.primary_finished = False

    @property
    def server_run_id(self) -> str:
        return self._run_id

    @property
    def experiment_id(self) -> str:
        return self._exp_id

    def open_run(
        self, identity: RunIdentity, run_record: Record | None, resume: ResumeFrom | None
    ) -> None:
        self._run_dir = identity.run_dir.path
        if resume is not None:
            self._exp_id = resume.experiment_id
            self._map = MapState.from_json(resume.state)
            seen = self.known.get(resume.server_run_id, resume.state) if self.known else None
            if seen is not None:  # the last pass left this checkpoint: no runs/get
                self._run_id, (self._artifact_root, self._params) = resume.server_run_id, seen
                self._spool = Spool(identity.run_dir.sync_dir / f"{self.name}.output.log",
                                    self._map)
                return
            run = self.rest.get_run(resume.server_run_id)
            if run is None or run.get("info", {}).get("lifecycle_stage") == "deleted":
                kept = runs.find_run(self.rest, resume.experiment_id, identity.run_id)
                if kept is not None:  # another syncer's copy is the one kept (runs.py)
                    raise RunMoved(f"server run {resume.server_run_id} was a second copy; "
                                   f"run {identity.run_id} is kept as "
                                   f"{runs.server_run_id(kept)}")
                raise RunGone(f"server run {resume.server_run_id} no longer exists")
        else:
            project = identity.project or self.default_experiment
            self._exp_id = runs.experiment_id(self.rest, project)
            start = run_record.ts if run_record is not None else identity.created
            run = runs.find_or_create_run(
                self.rest, self._exp_id, identity.run_id, identity.name or identity.run_id,
                ts_ms(start if start is not None else 0.0),
                run_body=run_record.body if run_record is not None else None)
            self._map = MapState()
        self._run_id = runs.server_run_id(run)
        info = run.get("info", {})
        self._artifact_root = artifact_root(str(info.get("artifact_uri", "")))
        params = run.get("data", {}).get("params", []) or []
        self._params = {p["key"]: p.get("value", "") for p in params
                        if isinstance(p, dict) and "key" in p}
        self._spool = Spool(identity.run_dir.sync_dir / f"{self.name}.output.log", self._map)

    def for_stream(self, label: str, primary_finished: bool) -> MlflowSink:
        """A sink for stream ``label`` of a shared run, on this one's client (Sink)."""
        sink = MlflowSink(self.rest, parallel=self.parallel,
                          default_experiment=self.default_experiment, known=self.known)
        sink.label, sink.primary_finished = label, primary_finished
        return sink

    def _named(self, name: str) -> str:
        """An artifact name of the run's own (output.log, config.json), per stream."""
        if not self.label:
            return name
        stem, dot, ext = name.rpartition(".")
        return f"{stem}.{self.label}{dot}{ext}"

    # -- sending -----------------------------------------------------------
    def send(self, records: list[Record]) -> list[Rejection]:
        plan = Plan()
        label = self.label
        for rec in records:
            map_record(plan, namespaced(rec, label) if label else rec, self._map,
                       self._params, label)
        out = list(plan.rejected) + screen(plan, self._batches.refused)
        if plan.reopen:
            self.rest.update_run(self._run_id, status="RUNNING")
        params = [(s, {"key": k, "value": v}) for k, (s, v) in plan.params.items()]
        tags = [(s, {"key": k, "value": v}) for k, (s, v) in plan.tags.items()]
        for got, delivered in self._batches.send(self._run_id, params, tags, plan.metrics):
            out += got
            self.points_sent += delivered
        refused = {r.key for r in out if r.what is Refused.PARAM}
        self._params.update({k: v for k, (_, v) in plan.params.items() if k not in refused})
        for seq, path in plan.files:
            out += self._upload_file(seq, path)
        if plan.uploads:
            out += self._uploads().send(plan.uploads)
        if plan.console:
            assert self._spool is not None
            self._spool.append("".join(plan.console))
        self.values_skipped += plan.skipped_values
        return out

    def _uploads(self) -> Uploader:
        up = self._uploader
        if up is None or up.run_id != self._run_id:
            up = self._uploader = Uploader(self.rest, self._run_id, self._artifact_root,
                                           self._run_dir)
        return up

    def _upload_file(self, seq: int, path: str) -> list[Rejection]:
        def opener() -> IO[bytes]:  # each attempt opens it again, inside files/ only
            return os.fdopen(open_run_file(self._run_dir, path), "rb")

        try:
            self._put(f"{self.label}/{path}" if self.label else path, opener=opener)
        except RefusedPath as exc:
            return [Rejection(seq, Refused.FILE, path, str(exc))]
        except FATAL:
            raise
        except (ArtifactsUnsupported, ServerRejected) as exc:
            return [Rejection(seq, Refused.FILE, path, reason(exc))]
        return []

    def _put(
        self, path: str, *, data: bytes | None = None,
        opener: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        if self._artifact_root is None:
            raise ArtifactsUnsupported("the server run has no mlflow-artifacts: artifact URI")
        self.rest.put_artifact(self._artifact_root, path, data=data, opener=opener)

    def end_pass(self) -> list[Rejection]:
        out: list[Rejection] = []
        spool = self._spool
        if spool is not None and spool.pending and self._artifact(
                self._named("output.log"), out, opener=spool.open):
            spool.uploaded()
        if self._map.config_dirty:
            body = json.dumps(self._map.config, indent=2, sort_keys=True, default=str)
            if self._artifact(self._named("config.json"), out, data=body.encode()):
                self._map.config_dirty = False
        return out

    def _artifact(
        self, name: str, out: list[Rejection], *, data: bytes | None = None,
        opener: Callable[[], IO[bytes]] | None = None,
    ) -> bool:
        """Upload one artifact of the sink's own; a refusal goes to ``out``."""
        try:
            self._put(name, data=data, opener=opener)
        except FATAL:
            raise
        except (ArtifactsUnsupported, ServerRejected) as exc:
            out.append(Rejection(-1, Refused.ARTIFACT, name, reason(exc)))
            return False
        return True

    def finish(self, exit_record: Record) -> list[Rejection]:
        out = self.end_pass()
        body = exit_record.body if isinstance(exit_record.body, dict) else {}
        status = STATUS.get(str(body.get("status", "finished")), "FAILED")
        if self.label:  # a stream's end: its own tag; the run's status is the primary's,
            self.rest.set_tag(self._run_id, f"runwal.stream.{self.label}.status", status)
            if status == "FINISHED" or self.primary_finished:  # unless it has none
                return out
        self.rest.update_run(self._run_id, status=status, end_time_ms=ts_ms(exit_record.ts))
        return out

    def state(self) -> dict[str, Any]:
        """The map state the engine saves with its checkpoint; remembered in ``known``
        with what the server has, for the run's next pass."""
        state = self._map.to_json()
        if self.known is not None and self._run_id:
            self.known.put(self._run_id, state, self._artifact_root, self._params)
        return state

    def close(self) -> None:
        self._batches.close()


def artifact_root(artifact_uri: str) -> str | None:
    """``mlflow-artifacts:/1/abc/artifacts`` -> ``1/abc/artifacts``; None if not proxied."""
    parts = urlsplit(artifact_uri)
    if parts.scheme != "mlflow-artifacts":
        return None
    return parts.path.strip("/") or None

