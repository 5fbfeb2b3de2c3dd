"""How runwal records become MLflow entities (pure: no network, no files).

One module over ~300 lines on purpose: the table below and the functions that
implement it row by row are read together, and each row is a few lines.

=============  ==============================================================
record         MLflow
=============  ==============================================================
run            tags: mlflow.source.name (argv[0]), mlflow.user, git ->
               mlflow.source.git.{commit,branch,repoURL}, notes ->
               mlflow.note.content, each tag in ``tags`` -> tag "<tag>"="true",
               group/job_type -> runwal.group / runwal.job_type, host -> runwal.host
config         params (keys flattened with "/"). Params are immutable, so a key
               whose value changes later goes in as tag ``config.<key>`` and the
               full current config is uploaded as artifact ``config.json``. A
               value longer than MLflow's 6000 characters (`MAX_PARAM_VALUE`)
               goes in cut (param and ``config.<key>`` tag alike): its key is
               listed in tag ``runwal.truncated_params`` (keys joined by ", ")
               and ``config.json`` holds the whole value
history        metrics with the record's own step and timestamp (ms), so a
               replay sends identical rows and the server stores them once.
               bool -> 0/1; NaN/inf as the strings MLflow parses; str/None/lists
               are not metrics: skipped and counted (``skipped_values``). A key
               a ``metric_def`` gave a ``step_metric`` (name or glob) goes in at
               step = the row's integer value of that metric when the row has
               one, else at the record's step (`stepmetric`)
summary        tags ``summary.<key>``, except a value that is the last one of
               that history metric (MLflow shows it as the metric already); a
               numeric value whose key was never a history metric also becomes
               metric ``<key>`` at the last history step (so it shows as a
               column without adding rows to a curve); a rich value (an image
               in the summary: ``{"_type": "image-file", "path", ...}``) is one
               tag, ``<_type> <path>``, not one per field
stats          metrics ``system/<name>`` with step = a per-run sample counter
file           artifact at the same relative path (files/<path>)
console        appended to artifact ``output.log`` (uploaded per pass)
media          images, tables, audio/video/html, histograms in the layouts of
               MLflow's own client (table in `media`)
artifact,      ``artifacts/<name>/v<N>/`` + MANIFEST.json, tags
artifact_use   ``runwal.artifacts.logged`` / ``.used`` (table in `artifacts`)
metric_def     its ``step_metric`` (see history); summary/hidden have no MLflow
               equivalent and are ignored
alert          tag runwal.alert.<title>
resume         run status back to RUNNING
exit           handled by the sink (status + end time)
=============  ==============================================================

A shared run's other streams come here with their names under their label
(syncer/streams.py); their ``run`` record becomes ``runwal.stream.<label>.*``
tags (host, pid, rank, ...) and a ``resume`` does not reopen the run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from schema.records import Record
from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.artifacts import ArtifactState, map_artifact, map_artifact_use
from syncer.sinks.mlflow.media import Mapped, MediaState, Upload, map_media
from syncer.sinks.mlflow.stepmetric import StepMetrics

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_DEPTH = 64  # levels of nested dicts flattened into "a/b/c" keys
TRUNCATED_TAG = "runwal.truncated_params"  # config keys whose param holds a cut value


@dataclass
class MapState:
    """What must persist between passes (goes into the checkpoint's ``state``)."""

    config: dict[str, Any] = field(default_factory=dict)  # current flattened config
    config_dirty: bool = False  # a changed (or cut) key awaits a config.json upload
    truncated: set[str] = field(default_factory=set)  # keys sent cut (TRUNCATED_TAG)
    system_step: int = 0
    last_step: int = 0
    history_keys: set[str] = field(default_factory=set)
    last_values: dict[str, Any] = field(default_factory=dict)  # metric -> last value sent
    console_bytes: int = 0  # bytes of output.log acknowledged so far
    console_uploaded: int = 0
    steps: StepMetrics = field(default_factory=StepMetrics)  # metric_def step_metric rules
    media: MediaState = field(default_factory=MediaState)
    artifacts: ArtifactState = field(default_factory=ArtifactState)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "config_dirty": self.config_dirty,
            "truncated": sorted(self.truncated),
            "system_step": self.system_step,
            "last_step": self.last_step,
            "history_keys": sorted(self.history_keys),
            "last_values": self.last_values,
            "console_bytes": self.console_bytes,
            "console_uploaded": self.console_uploaded,
            "step_metrics": self.steps.to_json(),
            "media": self.media.to_json(),
            "artifacts": self.artifacts.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MapState:
        return cls(
            config=dict(data.get("config") or {}),
            config_dirty=bool(data.get("config_dirty", False)),
            truncated=set(data.get("truncated") or ()),
            system_step=int(data.get("system_step", 0)),
            last_step=int(data.get("last_step", 0)),
            history_keys=set(data.get("history_keys") or ()),
            last_values=dict(data.get("last_values") or {}),
            console_bytes=int(data.get("console_bytes", 0)),
            console_uploaded=int(data.get("console_uploaded", 0)),
            steps=StepMetrics.from_json(data.get("step_metrics")),
            media=MediaState.from_json(data.get("media")),
            artifacts=ArtifactState.from_json(data.get("artifacts")),
        )


@dataclass
class Plan:
    """The requests one batch of records turns into; each item remembers its seq."""

    metrics: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    params: dict[str, tuple[int, str]] = field(default_factory=dict)
    tags: dict[str, tuple[int, str]] = field(default_factory=dict)
    files: list[tuple[int, str]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)  # media and artifact files, in order
    console: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    skipped_values: int = 0
    reopen: bool = False  # a RESUME record: the run is running again
    points: int = 0


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {"a/b": v}; other values kept as they are. Iterative, so a
    forged record nested thousands of levels deep costs time, never a RecursionError;
    past `MAX_DEPTH` levels the rest stays one value (its text says so)."""
    if not isinstance(data, dict):
        return {prefix or "value": data}
    out: dict[str, Any] = {}
    stack: list[tuple[str, Iterator[tuple[Any, Any]], int]] = [(prefix, iter(data.items()), 0)]
    while stack:
        base, items, depth = stack[-1]
        for k, v in items:
            key = f"{base}/{k}" if base else str(k)
            if isinstance(v, dict) and v and depth < MAX_DEPTH:
                stack.append((key, iter(v.items()), depth + 1))
                break
            out[key] = v
        else:
            stack.pop()
    return out


def as_text(value: Any) -> str:
    """How a config/summary value is shown as a param or tag value (never raises)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, sort_keys=True, default=str)
        except (RecursionError, TypeError, ValueError):  # nested too deep, mixed key types
            return f"<{type(value).__name__} runwal cannot print (nested too deep?)>"
    return str(value)


def metric_value(value: Any) -> float | str | None:
    """A JSON metric value MLflow stores faithfully, or None for non-numbers."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    return None


def ts_ms(ts: float) -> int:
    """Unix seconds -> the milliseconds MLflow stores: an int64 >= 0, never raising.

    NaN and anything before 1970 become 0, +inf and anything past int64 ms the
    int64 maximum: MLflow refuses negative timestamps and stores out-of-range
    ones as 0, and a replay must send the same value every time.
    """
    try:
        ms = round(float(ts) * 1000)
    except (OverflowError, ValueError, TypeError):  # inf, NaN, not a number at all
        return INT64_MAX if isinstance(ts, float) and ts > 0 else 0
    return min(max(ms, 0), INT64_MAX)


def _tag(plan: Plan, seq: int, key: str, value: Any) -> None:
    plan.tags[key] = (seq, as_text(value)[:MAX_TAG_VALUE])


def _metric(plan: Plan, seq: int, key: str, value: float | str, ts: float, step: int) -> None:
    plan.metrics.append((seq, {"key": key, "value": value, "timestamp": ts_ms(ts), "step": step}))
    plan.points += 1


def map_run(plan: Plan, rec: Record) -> None:
    body = rec.body if isinstance(rec.body, dict) else {}
    seq = rec.seq
    argv = body.get("argv")
    if isinstance(argv, list) and argv:
        _tag(plan, seq, "mlflow.source.name", argv[0])
    if body.get("user"):
        _tag(plan, seq, "mlflow.user", body["user"])
    if body.get("host"):
        _tag(plan, seq, "runwal.host", body["host"])
    raw_git = body.get("git")
    git: dict[str, Any] = raw_git if isinstance(raw_git, dict) else {}
    for src, dst in (("commit", "commit"), ("branch", "branch"), ("remote", "repoURL")):
        value = git.get(src) or body.get(f"git_{src}")
        if value:
            _tag(plan, seq, f"mlflow.source.git.{dst}", value)
    if body.get("notes"):
        _tag(plan, seq, "mlflow.note.content", body["notes"])
    for name in ("group", "job_type", "mode"):
        if body.get(name):
            _tag(plan, seq, f"runwal.{name}", body[name])
    tags = body.get("tags")
    if isinstance(tags, (list, tuple)):
        for t in tags:
            if isinstance(t, str) and t:
                _tag(plan, seq, t, "true")


def map_config(plan: Plan, rec: Record, state: MapState, server_params: dict[str, str]) -> None:
    for key, value in flatten(rec.body if isinstance(rec.body, dict) else {}).items():
        full = as_text(value)
        text = full[:MAX_PARAM_VALUE]
        previous = state.config.get(key, _MISSING)
        state.config[key] = _storable(value, full)
        if len(full) > MAX_PARAM_VALUE:
            _cut(plan, rec.seq, key, state)
        if key not in server_params and key not in plan.params:
            plan.params[key] = (rec.seq, text)
            continue
        sent = server_params.get(key, plan.params.get(key, (0, ""))[1])
        if previous is _MISSING and sent == text:
            continue  # a replay of what the server already has
        if previous is not _MISSING and as_text(previous)[:MAX_PARAM_VALUE] == text:
            continue  # set again to the same value
        _tag(plan, rec.seq, f"config.{key}", text)
        state.config_dirty = True


_MISSING = object()


def _cut(plan: Plan, seq: int, key: str, state: MapState) -> None:
    """A value MLflow cannot hold whole: config.json must carry it, and a tag says so.

    Marked every time such a value is set, even when the server has the param
    already: a replay without checkpoint state must still upload config.json.
    """
    state.truncated.add(key)
    state.config_dirty = True
    _tag(plan, seq, TRUNCATED_TAG, ", ".join(sorted(state.truncated)))


def _storable(value: Any, text: str) -> Any:
    """``value`` if the checkpoint (JSON) can hold it, else its text: bytes, msgpack
    ext values or maps with odd keys must not make the checkpoint unwritable."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return text
    return value


def map_history(plan: Plan, rec: Record, state: MapState) -> None:
    body = rec.body if isinstance(rec.body, dict) else {}
    step = body.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or not INT64_MIN <= step <= INT64_MAX:
        why = f"step {step!r} is not an int64"
        plan.rejected.append(Rejection(rec.seq, Refused.STEP, "", why))
        return
    state.last_step = step
    row = flatten(body.get("data", {}))
    steps = state.steps
    for key, value in row.items():
        v = metric_value(value)
        if v is None:
            plan.skipped_values += 1
            continue
        state.history_keys.add(key)
        state.last_values[key] = v
        _metric(plan, rec.seq, key, v, rec.ts, steps.step(key, row, step) if steps.rules else step)


def map_summary(plan: Plan, rec: Record, state: MapState) -> None:
    for key, value in _summary_items(rec.body if isinstance(rec.body, dict) else {}):
        v = metric_value(value)
        if v is not None and key in state.history_keys and state.last_values.get(key) == v:
            continue  # the metric's last value: MLflow shows it as the metric already
        _tag(plan, rec.seq, f"summary.{key}", value)
        if v is not None and key not in state.history_keys:
            _metric(plan, rec.seq, key, v, rec.ts, state.last_step)


def _summary_items(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The summary's values as flat keys; a rich value (``{"_type": ..., "path": ...}``)
    is one value, its type and file, not a tag per field."""
    flat = flatten(body)
    rich = {k.rpartition("/")[0] for k in flat if k.endswith("/_type")}
    out: list[tuple[str, Any]] = []
    for key, value in flat.items():
        head, _, name = key.rpartition("/")
        if head in rich:
            if name == "_type":
                path = flat.get(f"{head}/path")
                out.append((head, f"{value} {path}" if path is not None else str(value)))
            continue  # its other fields are the file's details, in the media record
        out.append((key, value))
    return out


def map_stats(plan: Plan, rec: Record, state: MapState) -> None:
    step = state.system_step
    state.system_step += 1
    for key, value in flatten(rec.body if isinstance(rec.body, dict) else {}).items():
        v = metric_value(value)
        if v is None:
            plan.skipped_values += 1
            continue
        _metric(plan, rec.seq, f"system/{key}", v, rec.ts, step)


def map_stream_run(plan: Plan, rec: Record, label: str) -> None:
    """A shared run's non-primary stream begins: who wrote it, as tags of its own (the
    run's identity tags are the primary's)."""
    body = rec.body if isinstance(rec.body, dict) else {}
    raw = body.get("stream")
    facts: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key in ("host", "pid"):
        if body.get(key) is not None:
            _tag(plan, rec.seq, f"runwal.stream.{label}.{key}", body[key])
    for key in ("rank", "local_rank", "node_rank", "world_size"):
        if facts.get(key) is not None:
            _tag(plan, rec.seq, f"runwal.stream.{label}.{key}", facts[key])


def map_record(plan: Plan, rec: Record, state: MapState, server_params: dict[str, str],
               stream: str = "") -> bool:
    """Add one record to ``plan``; False for a type this mapping does not know.
    ``stream``: the label of a shared run's non-primary stream (syncer/streams.py
    has already put its names under the label)."""
    kind = rec.kind
    body = rec.body if isinstance(rec.body, dict) else {}
    if stream and kind in ("run", "resume"):
        if kind == "run":  # the run's own identity tags and status are the primary's
            map_stream_run(plan, rec, stream)
        return True
    if kind == "history":
        map_history(plan, rec, state)
    elif kind == "stats":
        map_stats(plan, rec, state)
    elif kind == "config":
        map_config(plan, rec, state, server_params)
    elif kind == "summary":
        map_summary(plan, rec, state)
    elif kind == "run":
        map_run(plan, rec)
    elif kind == "console":
        text = body.get("text")
        if isinstance(text, str) and text:
            plan.console.append(text)
    elif kind == "file":
        path = body.get("path")
        if isinstance(path, str) and path:
            plan.files.append((rec.seq, path))
        else:
            why = "file record without a path"
            plan.rejected.append(Rejection(rec.seq, Refused.FILE, "", why))
    elif kind == "alert":
        title = str(body.get("title", "alert"))[:200]
        _tag(plan, rec.seq, f"runwal.alert.{title}", body.get("text", ""))
    elif kind == "resume":
        plan.reopen = True
    elif kind == "metric_def":
        state.steps.define(body.get("name"), body.get("step_metric"))
    elif kind == "media":
        _merge(plan, rec, map_media(rec, state.media, ts_ms(rec.ts)))
    elif kind == "artifact":
        _merge(plan, rec, map_artifact(rec, state.artifacts))
    elif kind == "artifact_use":
        _merge(plan, rec, map_artifact_use(rec, state.artifacts))
    else:
        return False
    return True


def _merge(plan: Plan, rec: Record, got: Mapped) -> None:
    for key, value, step in got.metrics:
        v = metric_value(value)
        if v is not None:
            _metric(plan, rec.seq, key, v, rec.ts, step)
    for key, text in got.tags.items():
        _tag(plan, rec.seq, key, text)
    plan.uploads += got.uploads
    plan.rejected += got.rejected


def count_points(rec: Record) -> int:
    """Metric rows ``rec`` becomes on its own (what `runwal sync --dry-run` counts)."""
    plan = Plan()
    map_record(plan, rec, MapState(), {})
    return plan.points
