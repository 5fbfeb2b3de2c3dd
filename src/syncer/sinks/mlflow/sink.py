"""The MLflow sink: one runwal run -> one MLflow run, written idempotently.

Finding the run: the checkpoint's server run id; without a checkpoint, the
run tagged ``runwal.run_id``, created exactly once if there is none
(`syncer.sinks.mlflow.runs`).

Sending: records are mapped by `syncer.sinks.mlflow.mapping` into params,
tags, metrics, files and console text; keys MLflow would refuse are dropped
and reported once each before anything is sent (`syncer.sinks.mlflow.names`).
Up to 100 params and 100 tags ride in a batch's first metrics request (more
go first, 100 per request), then metrics in 1000-row requests run a few at a
time in parallel (the server's ingest ceiling needs several connections); a
small run's batch is one log-batch. A request refused with 400 is split in halves until the
offending items are isolated; those become `Rejection`s and the rest is
delivered; a metric key refused that way is dropped client-side for the rest
of the pass, so its other rows are not bisected down to one by one. Files are
read only from inside ``files/`` (`syncer.engine.runfiles`: links and ``..``
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
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from schema.records import Record
from schema.uri import public_uri
from syncer.engine.checkpoint import sink_file_name
from syncer.engine.runfiles import RefusedPath, open_run_file
from syncer.errors import ArtifactsUnsupported, AuthFailed, RunGone, ServerRejected, SyncError
from syncer.sinks.base import Refused, Rejection, ResumeFrom, RunIdentity
from syncer.sinks.mlflow import runs
from syncer.sinks.mlflow.mapping import MapState, Plan, map_record, ts_ms
from syncer.sinks.mlflow.names import screen
from syncer.sinks.mlflow.rest import MlflowRest
from syncer.sinks.mlflow.spool import Spool
from syncer.sinks.mlflow.uploads import Uploader

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ITEMS = 1000  # metrics + params + tags in one log-batch
DEFAULT_EXPERIMENT = "runwal"
RUN_ID_TAG = runs.RUN_ID_TAG
STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "preempted": "KILLED"}
_SPLITTABLE = frozenset({400, 413, 422})
_FATAL = (AuthFailed, RunGone)  # never pinned on one item: the whole pass fails
_BATCH_FIELD = {Refused.METRIC: "metrics", Refused.PARAM: "params", Refused.TAG: "tags"}
Items = list[tuple[int, dict[str, Any]]]


def sink_name_for(uri: str) -> str:
    """Checkpoint name for a server: ``mlflow-<host>_<port>`` (one file per server)."""
    parts = urlsplit(public_uri(uri))
    where = (parts.netloc + parts.path).replace(":", "_").replace("/", "_")
    return sink_file_name(f"mlflow-{where}")


class KnownRuns:
    """What the sinks of one server learnt about the runs they synced, for the next pass
    of the same run: its artifact root and params, the part of runs/get a resumed pass
    needs. ``runwal syncd`` gives a live run a pass per write, and that runs/get was half
    of each pass's requests. An entry holds only while the checkpoint's sink state is the
    one the last pass saved (no other process synced the run since; params only change
    with a config record, which changes that state); a run deleted on the server since
    is still found out, by the write (`RunGone`). Thread-safe; the newest ``size`` runs."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, tuple[str, str | None, dict[str, str]]] = OrderedDict()

    def get(self, server_run_id: str, state: dict[str, Any]) -> tuple[str | None,
                                                                      dict[str, str]] | None:
        """(artifact root, params) if the last pass left ``state`` in the checkpoint."""
        key = json.dumps(state, sort_keys=True, default=str)
        with self._lock:
            hit = self._runs.get(server_run_id)
            if hit is None or hit[0] != key:
                return None
            self._runs.move_to_end(server_run_id)
            return hit[1], dict(hit[2])

    def put(self, server_run_id: str, state: dict[str, Any], artifact_root: str | None,
            params: dict[str, str]) -> None:
        key = json.dumps(state, sort_keys=True, default=str)
        with self._lock:
            self._runs[server_run_id] = (key, artifact_root, dict(params))
            self._runs.move_to_end(server_run_id)
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)


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
        self.default_experiment = default_experiment
        self._run_id = ""
        self._exp_id = ""
        self._artifact_root: str | None = None
        self._params: dict[str, str] = {}
        self._map = MapState()
        self._spool: Spool | None = None
        self._uploader: Uploader | None = None  # media and artifact files (uploads.py)
        self._pool: ThreadPoolExecutor | None = None
        self._run_dir = Path(".")
        self._refused: dict[tuple[Refused, str], str] = {}  # keys refused in this pass
        self._lock = threading.Lock()
        self.points_sent = 0  # metric rows acknowledged by the server (cumulative)
        self.values_skipped = 0  # non-numeric history/stats values (not metrics)

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
        self._artifact_root = _artifact_root(str(info.get("artifact_uri", "")))
        params = run.get("data", {}).get("params", []) or []
        self._params = {p["key"]: p.get("value", "") for p in params
                        if isinstance(p, dict) and "key" in p}
        self._spool = Spool(identity.run_dir.sync_dir / f"{self.name}.output.log", self._map)

    # -- sending -----------------------------------------------------------
    def send(self, records: list[Record]) -> list[Rejection]:
        plan = Plan()
        for rec in records:
            map_record(plan, rec, self._map, self._params)
        out = list(plan.rejected) + screen(plan, self._refused)
        if plan.reopen:
            self.rest.update_run(self._run_id, status="RUNNING")
        params = [(s, {"key": k, "value": v}) for k, (s, v) in plan.params.items()]
        tags = [(s, {"key": k, "value": v}) for k, (s, v) in plan.tags.items()]
        # Up to 100 params and 100 tags ride in the first metrics request (MLflow takes
        # 1000 items in one log-batch): a small run's batch is one request, not three.
        ride = len(params) <= MAX_PARAMS and len(tags) <= MAX_TAGS
        if not ride:
            for i in range(0, len(params), MAX_PARAMS):
                out += self._log(Refused.PARAM, params[i : i + MAX_PARAMS])[0]
            for i in range(0, len(tags), MAX_TAGS):
                out += self._log(Refused.TAG, tags[i : i + MAX_TAGS])[0]
        rows = plan.metrics
        head = min(MAX_METRICS, MAX_ITEMS - len(params) - len(tags)) if ride else MAX_METRICS
        chunks = [rows[:head]] + [rows[i : i + MAX_METRICS] for i in range(head, len(rows),
                                                                            MAX_METRICS)]
        first = (params, tags) if ride else ([], [])
        jobs = [(*first, chunks[0])] + [([], [], c) for c in chunks[1:]]
        results: Iterable[tuple[list[Rejection], int]]
        if len(jobs) > 1:
            results = self._executor().map(lambda j: self._log_all(*j), jobs)
        else:
            results = [self._log_all(*j) for j in jobs]
        for got, delivered in results:
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

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="runwal-sink")
        return self._pool

    def _log_all(self, params: Items, tags: Items, metrics: Items) -> tuple[list[Rejection], int]:
        """Params, tags and metrics in one log-batch; on a 400, each kind on its own
        (`_log` bisects it). Returns the rejections and how many metric rows the server took."""
        kinds = [(w, i) for w, i in ((Refused.PARAM, params), (Refused.TAG, tags),
                                     (Refused.METRIC, metrics)) if i]
        if len(kinds) <= 1:
            return self._log(*kinds[0]) if kinds else ([], 0)
        try:
            self.rest.log_batch(self._run_id, **{_BATCH_FIELD[w]: [p for s, p in i if (
                w, p["key"]) not in self._refused] for w, i in kinds})
            return [], sum(1 for _, m in metrics if (Refused.METRIC, m["key"]) not in self._refused)
        except _FATAL:
            raise
        except ServerRejected as exc:
            if exc.status not in _SPLITTABLE:
                raise
        out: list[Rejection] = []
        delivered = 0
        for what, items in kinds:
            got, n = self._log(what, items)
            out += got
            delivered += n if what is Refused.METRIC else 0
        return out, delivered

    def _log(self, what: Refused, items: Items) -> tuple[list[Rejection], int]:
        """Send ``items`` in one request; on a 400 bisect to isolate the bad ones.
        Returns the rejections and how many items the server took."""
        items = [(s, i) for s, i in items if (what, i["key"]) not in self._refused]
        if not items:
            return [], 0
        try:
            self.rest.log_batch(self._run_id, **{_BATCH_FIELD[what]: [p for _, p in items]})
            return [], len(items)
        except _FATAL:
            raise
        except ServerRejected as exc:
            if exc.status not in _SPLITTABLE:
                raise
            if len(items) == 1:
                seq, item = items[0]
                rejected = [Rejection(seq, what, item["key"], _reason(exc))]
                if what is not Refused.METRIC:  # a param or tag is refused for its value too
                    return rejected, 0
                with self._lock:  # parallel chunks: the first to isolate the key reports it
                    if (what, item["key"]) in self._refused:
                        return [], 0
                    self._refused[(what, item["key"])] = _reason(exc)
                return rejected, 0
        half = len(items) // 2
        first, n1 = self._log(what, items[:half])
        second, n2 = self._log(what, items[half:])
        return first + second, n1 + n2

    def _upload_file(self, seq: int, path: str) -> list[Rejection]:
        def opener() -> IO[bytes]:  # each attempt opens it again, inside files/ only
            return os.fdopen(open_run_file(self._run_dir, path), "rb")

        try:
            self._put(path, opener=opener)
        except RefusedPath as exc:
            return [Rejection(seq, Refused.FILE, path, str(exc))]
        except _FATAL:
            raise
        except (ArtifactsUnsupported, ServerRejected) as exc:
            return [Rejection(seq, Refused.FILE, path, _reason(exc))]
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
                "output.log", out, opener=spool.open):
            spool.uploaded()
        if self._map.config_dirty:
            body = json.dumps(self._map.config, indent=2, sort_keys=True, default=str)
            if self._artifact("config.json", out, data=body.encode()):
                self._map.config_dirty = False
        return out

    def _artifact(
        self, name: str, out: list[Rejection], *, data: bytes | None = None,
        opener: Callable[[], IO[bytes]] | None = None,
    ) -> bool:
        """Upload one artifact of the sink's own; a refusal goes to ``out``."""
        try:
            self._put(name, data=data, opener=opener)
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
        """The map state the engine saves with its checkpoint; remembered in ``known``
        with what the server has, for the run's next pass."""
        state = self._map.to_json()
        if self.known is not None and self._run_id:
            self.known.put(self._run_id, state, self._artifact_root, self._params)
        return state

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
