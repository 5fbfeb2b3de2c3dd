"""A run's records folded into one view: what ``runwal ls`` and ``show`` print.

`RunView.load(path)` reads the log once, through `schema.reader.iter_run_log`,
and keeps only what a human (or an "is it synced yet?" check) needs: identity,
start metadata, merged config and summary, per-metric statistics, files,
media keys (records, items, last step and file), artifacts logged and used,
console line counts, alerts, the exit record and every piece of damage.

Memory stays bounded whatever the length of the run: a metric keeps streaming
statistics (count, last, min, max) plus at most ``2 * sample_width`` points
for its sparkline (see metricstats.py).

A shared run (docs/FORMAT.md, "Streams"): the view is the run's own log (the
primary stream); each other writer stream (``streams/<label>/``) is read into
a view of its own in ``streams`` (label order), and its history and stats
are folded into this view's ``metrics`` and ``system`` under the names the
server shows them by (`syncer.streams.namespaced`: ``rank_1/loss``).

Schema-only on purpose (no click, no server): the sync engine may reuse it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schema.errors import SchemaError
from schema.events import Damage, Frame, Incomplete, records_lost
from schema.layout import PRIMARY_STREAM, RunDir
from schema.reader import iter_run_log
from schema.records import Record, RecordType, body_problem, finite_number
from syncer.inspect.mediafiles import record_error, record_files
from syncer.inspect.metricstats import Downsampler, MetricStats, as_number
from syncer.inspect.spelling import key_text
from syncer.streams import namespaced

MAX_NOTES = 20

__all__ = ["Downsampler", "MetricStats", "RunView", "as_number", "disk_usage",
           "sync_checkpoints", "sync_state"]


@dataclass
class RunView:
    """Everything ``show`` prints about one run; build it with `load`."""

    path: Path
    identity: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history_last: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricStats] = field(default_factory=dict)
    system: dict[str, MetricStats] = field(default_factory=dict)
    metric_defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> kind, counts, last
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # logged versions, in order
    artifact_uses: list[dict[str, Any]] = field(default_factory=list)
    console_lines: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    exit: dict[str, Any] | None = None
    damage: list[Damage] = field(default_factory=list)
    torn: list[Incomplete] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    frames: int = 0
    records: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    unknown_types: Counter[int] = field(default_factory=Counter)
    history_count: int = 0  # history records (a step logged in two calls is two)
    step_count: int = 0  # steps: history records whose step differs from the one before
    _prev_step: int | None = field(default=None, repr=False)
    last_step: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    first_ts: float | None = None
    last_ts: float | None = None
    notes: list[str] = field(default_factory=list)
    identity_error: str | None = None  # run.json unreadable; identity is a fallback
    sample_width: int = 64
    label: str = PRIMARY_STREAM  # a writer stream's label; "" for a run's own log
    streams: list[RunView] = field(default_factory=list)  # a shared run's other streams
    stream_of: Path | None = None  # the run of a stream directory loaded on its own
    _partial_line: dict[str, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, sample_width: int = 64) -> RunView:
        """Read the run at ``path`` once, and each of its writer streams. NotARunDir if
        it is not a run directory. A stream directory is read alone (``stream_of``)."""
        rd = RunDir.open(path)
        view = cls(rd.path, sample_width=sample_width)
        parent = rd.parent_run()
        if parent is not None:  # no run.json: its run record names the run
            view.label, view.stream_of = rd.label, parent.path
        try:
            view.identity = rd.identity() if parent is None else {}
        except RecursionError:  # json.loads of a run.json nested ~1000 deep
            view.identity_error = f"{rd.run_json}: unreadable run.json: nested too deep"
            view.identity = {"run_id": rd.path.name}
        except SchemaError as exc:  # the log may still be fine: show what it holds
            view.identity_error = str(exc)
            view.identity = {"run_id": rd.path.name}
        view._read(rd)
        if parent is None:
            for stream in rd.streams():
                sub = cls(stream.path, sample_width=sample_width, label=stream.label)
                sub._read(stream, into=view)
                view.streams.append(sub)
        return view

    def _read(self, rd: RunDir, into: RunView | None = None) -> None:
        """Fold ``rd``'s log into this view (and, namespaced, into ``into``'s metrics)."""
        self.segments = [p.name for p in rd.segments()]
        for ev in iter_run_log(rd.log_dir):
            if isinstance(ev, Frame):
                self.frames += 1
                for rec in ev.records:
                    self.feed(rec)
                    if into is not None:
                        into.feed_stream_metrics(rec, self.label)
            elif isinstance(ev, Incomplete):
                self.torn.append(ev)
            else:
                self.damage.append(ev)

    # -- folding ---------------------------------------------------------------

    def feed(self, rec: Record) -> None:
        """Fold one record into the view (records must come in seq order)."""
        self.records += 1
        if self.first_seq is None:
            self.first_seq = rec.seq
        self.last_seq = rec.seq
        self.first_ts = rec.ts if self.first_ts is None else self.first_ts
        self.last_ts = rec.ts
        kind = rec.kind
        if kind is None:
            self.unknown_types[rec.type] += 1
            return
        self.by_type[kind] += 1
        body = rec.body
        problem = body_problem(rec.type, body)
        if problem is not None:  # well formed, but not the shape docs/FORMAT.md gives
            self._note(f"seq {rec.seq}: {problem}; skipped")
            return
        handler = _HANDLERS.get(rec.type)
        if handler is not None:
            handler(self, rec, body)

    def feed_stream_metrics(self, rec: Record, label: str) -> None:
        """Fold the history or stats record ``rec`` of writer stream ``label`` into
        ``metrics`` / ``system``, under its namespaced names (``rank_1/loss``)."""
        if rec.type not in (RecordType.HISTORY, RecordType.STATS) \
                or body_problem(rec.type, rec.body) is not None:
            return
        named = namespaced(rec, label).body
        if rec.type == RecordType.HISTORY:
            self._series(self.metrics, rec.body["step"], _under_label(named["data"]), rec.ts)
        else:
            self._series(self.system, None, _under_label(named), rec.ts)

    def _note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def _history(self, rec: Record, body: dict[str, Any]) -> None:
        step, data = body["step"], body["data"]  # checked by body_problem
        self.history_count += 1
        if step != self._prev_step:  # rows of one step come together (log(commit=False))
            self.step_count += 1
            self._prev_step = step
        self.last_step = step if self.last_step is None else max(self.last_step, step)
        self._series(self.metrics, step, data, rec.ts)
        self.history_last.update(data)

    def _series(
        self, into: dict[str, MetricStats], step: int | None, data: dict[Any, Any], ts: float
    ) -> None:
        for raw_key, value in data.items():
            num = as_number(value)
            if num is None:
                continue
            key = key_text(raw_key)
            stats = into.get(key)
            if stats is None:
                stats = into[key] = MetricStats(samples=Downsampler(self.sample_width))
            stats.add(step, num, ts)

    def _media(self, rec: Record, body: dict[str, Any]) -> None:
        key = key_text(body.get("key"))
        items = body.get("items")
        items = items if isinstance(items, list) else []
        entry = self.media.setdefault(key, {"kind": body.get("kind"), "records": 0,
                                            "items": 0, "last_step": None, "last_file": None})
        entry["records"] += 1
        entry["items"] += len(items)
        step = body.get("step")
        if type(step) is int:
            entry["last_step"] = step
        error = record_error(rec)
        if error is not None:
            self._note(error)
        files = [f for f, _, _ in record_files(rec)]
        entry["last_file"] = files[-1] if files else entry["last_file"]

    def _artifact(self, rec: Record, body: dict[str, Any]) -> None:
        entries = body.get("entries")
        entries = entries if isinstance(entries, list) else []
        row = {k: body.get(k) for k in ("name", "version", "type", "aliases", "digest")}
        if rec.type == RecordType.ARTIFACT_USE:
            self.artifact_uses.append({**row, "source_run": body.get("source_run"),
                                       "asked": body.get("asked")})
        else:
            self.artifacts.append({**row, "entries": len(entries),
                                   "size": sum(e["size"] for e in entries
                                               if isinstance(e, dict)
                                               and type(e.get("size")) is int)})

    def _console(self, rec: Record, body: dict[str, Any]) -> None:
        stream, text = str(body.get("stream", "stdout")), body.get("text")
        if not isinstance(text, str) or not text:
            return
        self.console_lines[stream] += text.count("\n")
        self._partial_line[stream] = not text.endswith("\n")

    def _set(self, rec: Record, body: dict[str, Any]) -> None:
        t = rec.type
        if t == RecordType.RUN:
            if self.run:
                self._note(f"seq {rec.seq}: a second run record; the first one is shown")
            else:
                self.run = body
        elif t == RecordType.RESUME:
            self.resumes.append({"ts": rec.ts, **body})
        elif t == RecordType.CONFIG:
            self.config.update(body)
        elif t == RecordType.SUMMARY:
            self.summary.update(body)
        elif t == RecordType.FILE:
            self.files[str(body.get("path"))] = body
        elif t == RecordType.STATS:
            self._series(self.system, None, body, rec.ts)
        elif t == RecordType.METRIC_DEF:
            self.metric_defs[str(body.get("name"))] = body
        elif t == RecordType.ALERT:
            self.alerts.append({"ts": rec.ts, **body})
        elif t == RecordType.EXIT:
            self.exit = body

    # -- derived ---------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return str(self.identity.get("run_id") or self.run.get("run_id") or self.path.name)

    @property
    def created(self) -> float | None:
        """run.json's ``created``, else the first record's ts; None when neither is a
        finite number (a forged run.json may say NaN, 1e300 or "yesterday")."""
        created = finite_number(self.identity.get("created"))
        return created if created is not None else finite_number(self.first_ts)

    @property
    def status(self) -> str:
        """The exit record's status, or "unfinished" (still running, or it crashed)."""
        if self.exit is None:
            return "unfinished"
        return str(self.exit.get("status") or "finished")

    @property
    def exit_code(self) -> int | None:
        code = (self.exit or {}).get("code")
        return code if isinstance(code, int) else None

    @property
    def runtime(self) -> float | None:
        """Seconds the run took: the exit record's, else first to last record."""
        rt = finite_number((self.exit or {}).get("runtime"))
        if rt is not None:
            return rt
        start, last = self.created, finite_number(self.last_ts)
        if start is None or last is None:
            return None
        return last - start

    @property
    def final_summary(self) -> dict[str, Any]:
        """Last value of each history key, overridden by explicit summary values."""
        return {**self.history_last, **self.summary}

    @property
    def console_line_count(self) -> dict[str, int]:
        """Lines per stream; a last line without a newline counts too."""
        counts = dict(self.console_lines)
        for stream, partial in self._partial_line.items():
            if partial:
                counts[stream] = counts.get(stream, 0) + 1
        return counts

    @property
    def lost_records(self) -> int:
        """Records known lost to damage (`schema.events.records_lost`, as verify counts)."""
        return records_lost(self.damage)


def _under_label(data: dict[Any, Any]) -> dict[str, Any]:
    """`namespaced`'s ``{label: {key: value}}`` as ``{"label/key": value}``."""
    return {f"{key_text(label)}/{key_text(k)}": v for label, inner in data.items()
            if isinstance(inner, dict) for k, v in inner.items()}


_HANDLERS = {int(t): RunView._set for t in RecordType}
_HANDLERS[int(RecordType.HISTORY)] = RunView._history
_HANDLERS[int(RecordType.CONSOLE)] = RunView._console
_HANDLERS[int(RecordType.MEDIA)] = RunView._media
_HANDLERS[int(RecordType.ARTIFACT)] = RunView._artifact
_HANDLERS[int(RecordType.ARTIFACT_USE)] = RunView._artifact


def disk_usage(path: str | os.PathLike[str]) -> int:
    """Bytes of every regular file under ``path`` (symlinks not followed)."""
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
    return total


def sync_checkpoints(path: str | os.PathLike[str]) -> dict[str, int]:
    """Last acknowledged seq per sink, from ``sync/*.json`` (unreadable files skipped)."""
    out: dict[str, int] = {}
    sync_dir = Path(path) / "sync"
    try:
        names = sorted(p for p in sync_dir.iterdir() if p.suffix == ".json")
    except OSError:
        return out
    for p in names:
        try:
            seq = json.loads(p.read_text())["seq"]
        except (OSError, ValueError, TypeError, KeyError, IndexError, RecursionError):
            continue
        if type(seq) is int:  # not a bool, not 1e999: a checkpoint the syncer wrote
            out[p.stem] = seq
    return out


def sync_state(view: RunView, checkpoints: dict[str, int] | None = None) -> str:
    """"synced" when some sink acknowledged the last seq, "partial" when a sink
    has only part of it, "-" when no sink has synced the run."""
    ckpts = sync_checkpoints(view.path) if checkpoints is None else checkpoints
    return sync_state_of(view.last_seq, ckpts)


def sync_state_of(last_seq: int | None, checkpoints: dict[str, int]) -> str:
    """`sync_state` of a run whose last seq read is ``last_seq``."""
    if not checkpoints:
        return "-"
    last = last_seq if last_seq is not None else -1
    return "synced" if max(checkpoints.values()) >= last else "partial"
