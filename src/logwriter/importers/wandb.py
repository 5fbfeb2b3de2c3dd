"""``runwal import wandb DIR...``: a wandb offline run directory becomes a run dir.

The records of ``run-<id>.wandb`` (wandblog.py: the LevelDB-log framing) are
``wandb.Record`` protobufs, decoded with wandb's published messages
(``wandb.proto.wandb_internal_pb2``, from the ``wandb-import`` extra):

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
                ``files/media/`` (see below); others (a wandb type runwal
                has no kind for, a file that is missing) skipped, counted
summary         folded, and written once at the end as one SUMMARY
                (wandb's running summary, ``_`` keys left out); a rich
                value there is the reference runwal's summary keeps (FORMAT.md):
                to the MEDIA record of that key whose file is the same
                (its last logged value), else to one written for it
stats           STATS (cpu, memory, gpu.N.* under MLflow's system metric
                names where one exists, else the wandb name with ``.`` -> ``_``)
output_raw      CONSOLE (stdout / stderr), consecutive lines of one stream joined
files           FILE: the file copied from the run's ``files/`` (output.log is
                the console, not copied again; media/ belongs to MEDIA records)
metric          METRIC_DEF; alert: ALERT
exit            EXIT (code, finished / failed, runtime); ``preempting`` makes a
                failing exit ``preempted``; no exit at all: ``killed``
=============== ===========================================================

Rich values, as wandb 0.31 writes them in a history row (a map with a
``_type``; its file under the run's ``files/``, named by ``path``):

==================== ===================================================
wandb ``_type``      MEDIA kind and item (file, size, sha256 plus)
==================== ===================================================
image-file           image: width, height, format, caption
images/separated     image gallery (``filenames``, ``captions``)
audio-file, audio    audio (one, or a gallery of ``audio``): sample_rate
                     and duration read from a WAV, format, caption
video-file, videos   video (one, or a gallery of ``videos``): fps null,
                     format (the file's extension), width/height when
                     given, caption
html-file, html      html (one, or a gallery of ``html``): format "html"
table-file           table: format "json", rows, columns from the file,
                     which is the ``{"columns", "data"}`` runwal writes
                     (cells as wandb wrote them; an image cell is
                     ``"Image"`` in 0.31's offline files)
histogram            histogram: bins and counts, no file
==================== ===================================================

Skipped and counted: telemetry, environment, artifacts, tbrecord, final,
footer, requests. The run id is ``wandb-<time>-<wandb id>`` from the
directory name ``offline-run-<time>-<id>`` (so a copy imports as the same
run). The cursor is the number of records read: a grown file (a live run
imported again) appends the records past it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

from logwriter.importers.errors import NotASource
from logwriter.importers.rundir import RunWriter, stable_id
from logwriter.importers.wandblog import LogDamage, Torn, read_log
from logwriter.media import encode
from logwriter.media.logged import reference
from schema.records import RecordType

pb: Any = wandb_internal_pb2  # generated code: no types for mypy
_DIR_NAME = re.compile(r"^(?:offline-)?run-(\d{8}_\d{6})-([A-Za-z0-9]+)$")
CONSOLE_CHUNK = 64 * 1024
PEEK_BYTES = 1 << 20  # the run record is among the first few: read no more to find it
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


def find_runs(path: Path) -> list[WandbRun]:
    """The wandb run in ``path`` (an offline-run-* dir), or every one in a wandb/ dir."""
    if not path.is_dir():
        raise NotASource("not a directory", path=str(path))
    logs = sorted(path.glob("run-*.wandb"))
    if logs:
        return [WandbRun(path, logs[0])]
    kids = [WandbRun(d, sorted(d.glob("run-*.wandb"))[0]) for d in sorted(path.iterdir())
            if d.is_dir() and not d.is_symlink() and any(d.glob("run-*.wandb"))]
    if not kids:
        raise NotASource("no wandb run here (no run-<id>.wandb)", path=str(path))
    return kids


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


def _histogram(value: dict[str, Any]) -> dict[str, Any] | None:
    """wandb's histogram JSON (``values`` n counts, ``bins`` n+1 edges or ``packedBins``
    {min, size, count}) as a media histogram item."""
    counts = value.get("values")
    bins = value.get("bins")
    packed = value.get("packedBins")
    if bins is None and isinstance(packed, dict):
        lo, size, n = packed.get("min", 0.0), packed.get("size", 0.0), packed.get("count", 0)
        bins = [lo + i * size for i in range(int(n) + 1)]
    if not isinstance(counts, list) or not isinstance(bins, list) or (
            len(bins) != len(counts) + 1):
        return None
    return {"bins": [float(b) for b in bins], "counts": [round(c) for c in counts]}


_FILE_KINDS = {"image-file": "image", "audio-file": "audio", "video-file": "video",
               "html-file": "html", "table-file": "table"}
_GALLERIES = {"audio": ("audio", "audio"), "videos": ("video", "videos"),
              "html": ("html", "html")}  # wandb _type -> (media kind, the list's field)


def _metadata(media: str, ext: str, data: bytes, ref: dict[str, Any]) -> dict[str, Any] | None:
    """A media item's metadata (docs/FORMAT.md) from a wandb file reference and the
    file's bytes; None for a table file that is no ``{"columns", "data"}`` JSON."""
    caption = ref.get("caption") if isinstance(ref.get("caption"), str) else None
    if media == "image":
        return {"width": ref.get("width"), "height": ref.get("height"),
                "format": ref.get("format") or ext, "caption": caption}
    if media == "audio":
        info = encode.wav_info(data) if ext == "wav" else None
        rate, duration = info if info is not None else (None, None)
        return {"sample_rate": rate, "duration": duration, "format": ext, "caption": caption}
    if media == "video":
        meta: dict[str, Any] = {"fps": None, "format": ext, "caption": caption}
        meta.update((k, ref[k]) for k in ("width", "height") if isinstance(ref.get(k), int))
        return meta
    if media == "html":
        return {"format": "html"}
    try:
        doc = json.loads(data)
        columns, rows = doc["columns"], doc["data"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(columns, list) or not isinstance(rows, list):
        return None
    return {"format": "json", "rows": len(rows), "columns": [str(c) for c in columns]}


def _stats_name(key: str) -> str:
    if key in _STATS:
        return _STATS[key]
    m = _GPU.match(key)
    if m:
        return f"gpu_{m.group(1)}_{_GPU_NAMES[m.group(2)]}"
    return key.replace(".", "_").replace("/", "_")


def _ts(stamp: Any) -> float:
    return float(stamp.seconds) + stamp.nanos / 1e9


class WandbRun:
    """One wandb offline run (a `logwriter.importers.rundir.Source`)."""

    kind = "wandb"

    def __init__(self, path: Path, log: Path) -> None:
        self.path = path
        self.log = log
        m = _DIR_NAME.match(path.name)
        self.run_id = (f"wandb-{m.group(1)}-{m.group(2)}" if m
                       else stable_id("wandb", path.name, log.name))
        self.project = "uncategorized"
        self.name = log.stem[len("run-"):]
        self._created: float | None = None
        self._peeked = False
        self._peek()

    def fingerprint(self) -> dict[str, int]:
        return {"size": self.log.stat().st_size}

    def grown(self, old: Any, new: Any) -> bool:
        return (isinstance(old, dict) and isinstance(old.get("size"), int)
                and new["size"] >= old["size"])

    def created(self) -> float:
        self._peek()
        return self._created if self._created is not None else self.log.stat().st_mtime

    def _peek(self) -> None:
        """Project, name and start time from the run record (run.json needs them first)."""
        if self._peeked:
            return
        self._peeked = True
        try:
            for i, raw in enumerate(read_log(self.log, PEEK_BYTES)):
                if i > 50:
                    break
                if isinstance(raw, bytes):
                    rec = pb.Record.FromString(raw)
                    if rec.WhichOneof("record_type") == "run":
                        r = rec.run
                        self.project = r.project or self.project
                        self.name = r.display_name or self.name
                        self._created = _ts(r.start_time) if r.HasField("start_time") else None
                        return
        except (ValueError, OSError):
            return

    def write(self, out: RunWriter, cursor: Any) -> dict[str, int]:
        self._peek()
        skip = int((cursor or {}).get("records", 0))
        w = _Writer(self, out, skip)
        try:
            events = read_log(self.log)
            for raw in events:
                if isinstance(raw, LogDamage):
                    out.notes.append(f"{self.log}: {raw.describe()}")
                    out.counts["damaged"] += 1
                elif isinstance(raw, Torn):
                    out.notes.append(f"{self.log}: torn last record at offset {raw.offset}")
                else:
                    w.record(raw)
        except ValueError as exc:
            raise NotASource(f"{self.log}: {exc}") from None
        w.finish()
        return {"records": w.index}


class _Writer:
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
        # key -> (step, wandb's sha256, media kind, items) of its last media record
        self.logged: dict[str, tuple[int, Any, str, list[dict[str, Any]]]] = {}
        self.pending: dict[str, tuple[dict[str, Any], int]] = {}  # rich summary values

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
            self.ts = max(self.ts, _ts(r.start_time))
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
            self._rich(key, int(step), value)
        if self.pending:
            self._resolve_summary()

    def _rich(self, key: str, step: int, value: dict[str, Any]) -> None:
        """A rich value (the table in the module's docs) as a media record; others counted."""
        kind = str(value.get("_type"))
        media, items = self._items(kind, value)
        if not items:
            if self.writing:
                self.out.counts[f"skipped_{kind}"] += 1
            return
        self.put(RecordType.MEDIA, self.ts, {"key": key, "step": step, "kind": media,
                                             "items": items})
        self.logged[key] = (step, value.get("sha256"), media, items)
        if self.writing:
            self.out.counts[f"{media}s"] += 1

    def _items(self, kind: str, value: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """(runwal's media kind, the items) of one wandb value; no items when unknown."""
        if kind == "histogram":
            item = _histogram(value)
            return "histogram", [item] if item is not None else []
        if kind == "images/separated":
            paths = list(value.get("filenames") or [])
            captions = list(value.get("captions") or [None] * len(paths))
            refs = [{"path": p, "caption": c, "width": value.get("width"),
                     "height": value.get("height"), "format": value.get("format")}
                    for p, c in zip(paths, captions, strict=False)]
            return "image", self._media_files("image", refs)
        if kind in _FILE_KINDS:
            return _FILE_KINDS[kind], self._media_files(_FILE_KINDS[kind], [value])
        if kind in _GALLERIES:
            media, field = _GALLERIES[kind]
            refs = [r for r in value.get(field) or [] if isinstance(r, dict)]
            return media, self._media_files(media, refs)
        return "", []

    def _media_files(self, media: str, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each wandb file reference's file stored, with the item's metadata."""
        out = []
        for ref in refs:
            rel = ref.get("path")
            if not isinstance(rel, str) or ".." in Path(rel).parts:
                continue
            src = self.run.path / "files" / rel
            if not src.is_file():
                continue
            data = src.read_bytes()
            ext = (src.suffix.lstrip(".").lower() or "bin")[:10]
            meta = _metadata(media, ext, data, ref)
            if meta is None:
                continue
            fmt = meta.get("format") or ext
            if self.writing:
                stored = self.out.media_file(media, fmt, data)
            else:  # a record before the cursor: its file is there already, same name
                digest = hashlib.sha256(data).hexdigest()
                stored = {"file": f"media/{media}/{digest}.{fmt}", "size": len(data),
                          "sha256": digest}
            out.append({**stored, **meta})
        return out

    def _summary(self, s: Any) -> None:
        for key, value in _tree(s.update).items():
            if key.startswith("_"):
                continue
            if isinstance(value, dict) and "_type" in value:
                self.pending[key] = (value, self.index)  # its history row comes next
                continue
            self.pending.pop(key, None)
            self.summary[key] = value
        for item in s.remove:
            self.summary.pop(_key(item), None)

    def _resolve_summary(self) -> None:
        """Rich summary values as runwal's references (FORMAT.md): to the media record of
        the key when it holds the same file (wandb's summary of a logged key: wandb 0.31
        writes that summary just before the history row), else to a media record
        written for it at the current step; a kind runwal has not is left out.

        Run after each history row and at the end. A record of its own is written
        as of the summary record's place in the log, so a re-import that appends
        writes it once."""
        pending, self.pending = self.pending, {}
        for key, (value, index) in pending.items():
            logged = self.logged.get(key)
            if logged is None or logged[1] != value.get("sha256"):
                now, self.index = self.index, index
                try:
                    self._rich(key, self.step, value)
                finally:
                    self.index = now
                logged = self.logged.get(key)
            if logged is None:
                self.summary.pop(key, None)
                continue
            step, _, media, items = logged
            self.summary[key] = reference(media, step, {"items": items})

    def _stats(self, s: Any) -> None:
        ts = _ts(s.timestamp) if s.HasField("timestamp") else self.ts
        body = {}
        for item in s.item:
            value = _value(item.value_json)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                body[_stats_name(item.key)] = float(value)
        if body:
            self.put(RecordType.STATS, ts, body)

    def _output_raw(self, o: Any) -> None:
        stream = "stdout" if o.output_type == pb.OutputRawRecord.STDOUT else "stderr"
        ts = _ts(o.timestamp) if o.HasField("timestamp") else self.ts
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
        self._resolve_summary()
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
