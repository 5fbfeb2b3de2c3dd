"""wandb's records (``wandb.Record`` protobufs) as runwal records.

=============== ===========================================================
wandb record    runwal record (``ts``: the wandb record's own time)
=============== ===========================================================
run             RUN (name, project, tags, notes, group, job_type, host, git,
                start time; ``wandb`` holds wandb's run id and entity) and
                its config as CONFIG
config          CONFIG (the keys set; ``_wandb`` left out)
history         HISTORY at ``step.num``, ts = ``_timestamp``; keys starting
                with ``_`` left out; nested values flattened with ``/``;
                rich values as MEDIA at the step, their files copied from
                ``files/media/`` (wandbmedia.py); others (a wandb type runwal
                has no kind for, a file that is missing) skipped, counted
summary         folded, and written once at the end as one SUMMARY
                (wandb's running summary, ``_`` keys left out); a rich
                value there is a reference to a MEDIA record (wandbmedia.py)
stats           STATS (cpu, memory, gpu.N.* under MLflow's system metric
                names where one exists, else the wandb name with ``.`` -> ``_``)
output_raw      CONSOLE (stdout / stderr), consecutive lines of one stream joined
files           FILE: the file copied from the run's ``files/`` (output.log is
                the console, not copied again; media/ belongs to MEDIA records)
metric          METRIC_DEF; alert: ALERT
exit            EXIT (code, finished / failed, runtime); ``preempting`` makes a
                failing exit ``preempted``; no exit at all: ``killed``
=============== ===========================================================

Other types are skipped and counted; records up to the last import's cursor are
folded (summary, each key's media) but not written again (``RecordWriter.index``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandb.proto import wandb_internal_pb2

from logwriter.importers.rundir import RunWriter
from logwriter.importers.wandbmedia import RichValues
from schema.records import RecordType

if TYPE_CHECKING:
    from logwriter.importers.wandb import WandbRun

pb: Any = wandb_internal_pb2  # generated code: no types for mypy
CONSOLE_CHUNK = 64 * 1024
_STATS = {  # wandb's system metric -> MLflow's (docs/FORMAT.md, stats)
    "cpu": "cpu_utilization_percentage",
    "memory_percent": "system_memory_usage_percentage",
    "proc.memory.rssMB": "process_memory_rss_megabytes",
    "disk./.usagePercent": "disk_usage_percentage",
}
_GPU = re.compile(r"^gpu\.(\d+)\.(gpu|memory|memoryAllocated|temp|powerWatts)$")
_GPU_NAMES = {"gpu": "utilization_percentage", "memory": "memory_utilization_percentage",
              "memoryAllocated": "memory_usage_percentage", "temp": "temperature_celsius",
              "powerWatts": "power_watts"}
_LEVELS = {"INFO": "INFO", "WARN": "WARN", "WARNING": "WARN", "ERROR": "ERROR"}
_POLICY = {0: "now", 1: "end", 2: "live"}


def _value(raw: str) -> Any:
    """A value_json; text that is no JSON is kept as the text (never a failed import)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else str(item.key)


def _tree(items: Any) -> dict[str, Any]:
    """History or summary items as one nested dict: wandb 0.31 writes a dict value as
    one item per leaf (``nested_key = ["img", "_type"]``, ...)."""
    out: dict[str, Any] = {}
    for item in items:
        path = list(item.nested_key) or [str(item.key)]
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                node[part] = child = {}
            node = child
        node[path[-1]] = _value(item.value_json)
    return out


def _flatten(key: str, value: Any, out: dict[str, Any], rich: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        if "_type" in value:
            rich.append((key, value))
            return
        for k, v in value.items():
            _flatten(f"{key}/{k}", v, out, rich)
        return
    if isinstance(value, list) and not all(
            v is None or isinstance(v, (int, float, str, bool)) for v in value):
        rich.append((key, {"_type": "list"}))
        return
    out[key] = value


def _stats_name(key: str) -> str:
    if key in _STATS:
        return _STATS[key]
    m = _GPU.match(key)
    if m:
        return f"gpu_{m.group(1)}_{_GPU_NAMES[m.group(2)]}"
    return key.replace(".", "_").replace("/", "_")


def stamp_ts(stamp: Any) -> float:
    """A protobuf Timestamp in seconds."""
    return float(stamp.seconds) + stamp.nanos / 1e9


class RecordWriter:
    """Turns the log's records into runwal records, writing those past ``skip``."""

    def __init__(self, run: WandbRun, out: RunWriter, skip: int) -> None:
        self.run, self.out, self.skip = run, out, skip
        self.index = 0  # records read (undecodable ones included)
        self.ts = run.created()
        self.summary: dict[str, Any] = {}
        self.console: list[Any] = []  # [stream, ts, [text...], size]
        self.exit: Any = None
        self.preempted = False
        self.saved: set[str] = set()
        self.seen_run = False
        self.step = 0  # the last history row's
        self.rich = RichValues(run.path / "files", out, skip)

    @property
    def writing(self) -> bool:
        return self.index > self.skip

    def put(self, rtype: RecordType, ts: float, body: Any) -> None:
        if self.writing:
            self.out.put(int(rtype), ts, body)

    def record(self, raw: bytes) -> None:
        self.index += 1
        try:
            rec = pb.Record.FromString(raw)
        except Exception:  # protobuf's DecodeError: a record that validates, yet is no Record
            self.out.counts["undecodable"] += 1
            return
        kind = rec.WhichOneof("record_type")
        handler = getattr(self, f"_{kind}", None)
        if kind not in ("output_raw", "output"):
            self._flush_console()
        if handler is None:
            if self.writing:
                self.out.counts[f"skipped_{kind}"] += 1
            return
        handler(getattr(rec, kind))

    # -- one method per wandb record type -------------------------------------

    def _run(self, r: Any) -> None:
        if r.HasField("start_time"):
            self.ts = max(self.ts, stamp_ts(r.start_time))
        if not self.seen_run:
            self.seen_run = True
            git = {"commit": r.git.commit or None, "remote": r.git.remote_url or None,
                   "branch": None, "dirty": None} if r.HasField("git") else None
            body = {"run_id": self.run.run_id, "project": self.run.project,
                    "name": self.run.name, "mode": "offline", "tags": list(r.tags),
                    "notes": r.notes or None, "group": r.run_group or None,
                    "job_type": r.job_type or None, "started": self.ts,
                    "host": r.host or None,
                    "wandb": {"run_id": r.run_id, "entity": r.entity or None},
                    "imported_from": {"kind": "wandb", "path": str(self.run.path.resolve())}}
            if git:
                body["git"] = git
            self.put(RecordType.RUN, self.ts, body)
        self._config(r.config)

    def _config(self, c: Any) -> None:
        delta = {}
        for item in c.update:
            key = _key(item)
            if key != "_wandb" and not key.startswith("_wandb/"):
                delta[key] = _value(item.value_json)
        if delta:
            self.put(RecordType.CONFIG, self.ts, delta)

    def _history(self, h: Any) -> None:
        data: dict[str, Any] = {}
        rich: list[tuple[str, Any]] = []
        step = h.step.num if h.HasField("step") else None
        for key, value in _tree(h.item).items():
            if key.startswith("_"):
                if key == "_timestamp" and isinstance(value, (int, float)):
                    self.ts = float(value)
                elif key == "_step" and step is None and isinstance(value, int):
                    step = value
                continue
            _flatten(key, value, data, rich)
        if step is None or step < 0:
            return
        self.step = int(step)
        if data:
            self.put(RecordType.HISTORY, self.ts, {"step": int(step), "data": data})
        for key, value in rich:
            self.rich.log(key, int(step), value, self.ts, self.index)
        if self.rich.pending:
            self.rich.resolve(self.summary, self.step, self.ts)

    def _summary(self, s: Any) -> None:
        for key, value in _tree(s.update).items():
            if key.startswith("_"):
                continue
            if isinstance(value, dict) and "_type" in value:
                self.rich.hold(key, value, self.index)
                continue
            self.rich.pending.pop(key, None)
            self.summary[key] = value
        for item in s.remove:
            self.summary.pop(_key(item), None)

    def _stats(self, s: Any) -> None:
        ts = stamp_ts(s.timestamp) if s.HasField("timestamp") else self.ts
        body = {}
        for item in s.item:
            value = _value(item.value_json)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                body[_stats_name(item.key)] = float(value)
        if body:
            self.put(RecordType.STATS, ts, body)

    def _output_raw(self, o: Any) -> None:
        stream = "stdout" if o.output_type == pb.OutputRawRecord.STDOUT else "stderr"
        ts = stamp_ts(o.timestamp) if o.HasField("timestamp") else self.ts
        text = str(o.line)
        pending = self.console
        if pending and (pending[0] != stream or pending[3] + len(text) > CONSOLE_CHUNK):
            self._flush_console()
            pending = self.console
        if not pending:
            self.console = pending = [stream, ts, [], 0]
        pending[2].append(text)
        pending[3] += len(text)

    _output = _output_raw

    def _flush_console(self) -> None:
        if self.console:
            stream, ts, parts, _ = self.console
            self.console = []
            self.put(RecordType.CONSOLE, ts, {"stream": stream, "text": "".join(parts)})

    def _files(self, f: Any) -> None:
        for item in f.files:
            rel = str(item.path)
            src = self.run.path / "files" / rel
            if (rel == "output.log" or rel.startswith("media/") or rel in self.saved
                    or ".." in Path(rel).parts or not src.is_file()):
                continue
            self.saved.add(rel)
            if self.writing:
                self.out.save_file(src, rel, self.ts, _POLICY.get(int(item.policy), "now"))

    def _metric(self, m: Any) -> None:
        name = m.name or m.glob_name
        if not name:
            return
        s = m.summary
        summary = next((k for k in ("min", "max", "mean", "last") if getattr(s, k)), None)
        if s.none:
            summary = "none"
        self.put(RecordType.METRIC_DEF, self.ts, {
            "name": name, "step_metric": m.step_metric or None, "summary": summary,
            "hidden": bool(m.options.hidden)})

    def _alert(self, a: Any) -> None:
        self.put(RecordType.ALERT, self.ts, {"title": a.title, "text": a.text,
                                             "level": _LEVELS.get(a.level.upper(), "INFO")})

    def _exit(self, e: Any) -> None:
        self.exit = e

    def _preempting(self, p: Any) -> None:
        self.preempted = True

    def finish(self) -> None:
        """The folded summary and the EXIT, written by every import that wrote anything."""
        self._flush_console()
        self.rich.resolve(self.summary, self.step, self.ts)
        if self.summary:
            self.out.put(int(RecordType.SUMMARY), self.ts, dict(self.summary))
        e = self.exit
        if e is None:
            body = {"code": 1, "status": "killed", "runtime": 0.0}
        else:
            code = int(e.exit_code)
            status = "finished" if code == 0 else ("preempted" if self.preempted else "failed")
            runtime = float(e.runtime) or max(0.0, self.ts - self.run.created())
            body = {"code": code, "status": status, "runtime": round(runtime, 6)}
        self.out.put(int(RecordType.EXIT), self.ts, body)
