"""What ``runwal import`` and the SDK's importer process say to each other.

Importing another tool's run means writing a run dir, which is the SDK's
work (its writer, its media store, its TensorBoard reader); ``runwal
import`` is the syncer's command. The syncer never imports logwriter, so
the command starts ``python -m logwriter.importers KIND --into RUNS
[--project NAME] [--dry-run] -- SOURCE...`` as a process and reads its
stdout, one JSON object a line, built and parsed here alone (a contract
test drives the real process with this parser):

=========== ================================================================
``event``   the other keys
=========== ================================================================
started     ``index`` (0-based), ``total`` sources, ``source``, ``kind``:
            one source is being imported (sent for each source, first)
progress    ``index``, ``points``: history points of that source so far
result      ``index`` and `ImportResult`'s fields: what the source became
            (``status`` imported | appended | unchanged | dry-run | failed,
            ``run_id``, ``points``, ``counts`` with ``damaged``, ``notes``,
            ``reason``); ``error`` names why a source failed when the
            command treats it apart (`MISSING_EXTRA`: the importer's extra
            is not installed, exit 2 instead of a failed row)
done        ``total``, ``failed``: every source has its result; the last line
=========== ================================================================

Every source gets exactly one ``result``, a bad one too: one source never
aborts the batch. A process that ends without ``done`` was killed,
interrupted or hit a bug (its stderr, which is not protocol, says which).
Anything else the importer prints goes to stderr; a line `parse_line` does
not know is no protocol line (None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from schema.jsonline import dump_line, int_field, parse_tagged

STARTED = "started"
PROGRESS = "progress"
RESULT = "result"
DONE = "done"
EVENTS = frozenset({STARTED, PROGRESS, RESULT, DONE})

# ImportResult.status
IMPORTED = "imported"
APPENDED = "appended"
UNCHANGED = "unchanged"
DRY_RUN = "dry-run"
FAILED = "failed"

MISSING_EXTRA = "missing_extra"  # ImportResult.error: the importer's extra is missing

MODULE = "logwriter.importers"  # what the syncer runs with ``python -m``
KINDS = ("tensorboard", "wandb")


@dataclass
class ImportResult:
    """What one source became. ``status``: imported | appended | unchanged | dry-run | failed."""

    source: str
    kind: str
    run_id: str = ""
    run_dir: str = ""
    status: str = IMPORTED
    reason: str = ""
    records: int = 0
    points: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # scalars, text, images, skipped...
    notes: list[str] = field(default_factory=list)  # damage skipped, torn tails
    seconds: float = 0.0
    error: str = ""  # "" or MISSING_EXTRA: a failure the command handles apart

    def to_json(self) -> dict[str, Any]:
        """The fields ``runwal import --json`` prints for a source (docs/CLI.md)."""
        body = asdict(self)
        del body["error"]
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportResult:
        """A result from a ``result`` line's keys (unknown keys ignored); ValueError when a
        field has the wrong type."""
        known = {f.name: f for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("source"), str) or not isinstance(values.get("kind"), str):
            raise ValueError("a result needs source and kind")
        for name in ("run_id", "run_dir", "status", "reason", "error"):
            if not isinstance(values.get(name, ""), str):
                raise ValueError(f"result {name} is no string")
        for name in ("records", "points"):
            if not _is_int(values.get(name, 0)):
                raise ValueError(f"result {name} is no int")
        if not _is_number(values.get("seconds", 0.0)):
            raise ValueError("result seconds is no number")
        counts = values.get("counts", {})
        if not isinstance(counts, dict) or not all(
                isinstance(k, str) and _is_int(v) for k, v in counts.items()):
            raise ValueError("result counts is no map of ints")
        notes = values.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise ValueError("result notes is no list of strings")
        values["seconds"] = float(values.get("seconds", 0.0))
        values["counts"], values["notes"] = dict(counts), list(notes)
        return cls(**values)


@dataclass(frozen=True)
class Event:
    """One protocol line, parsed; the fields its ``event`` has are set (see module doc)."""

    event: str
    index: int = -1
    total: int = 0
    source: str = ""
    kind: str = ""
    points: int = 0
    failed: int = 0
    result: ImportResult | None = None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _line(body: dict[str, Any]) -> str:
    return dump_line(body)


def started_line(index: int, total: int, source: str, kind: str) -> str:
    return _line({"event": STARTED, "index": index, "total": total, "source": source,
                  "kind": kind})


def progress_line(index: int, points: int) -> str:
    return _line({"event": PROGRESS, "index": index, "points": points})


def result_line(index: int, result: ImportResult) -> str:
    return _line({"event": RESULT, "index": index, **asdict(result)})


def done_line(total: int, failed: int) -> str:
    return _line({"event": DONE, "total": total, "failed": failed})


def parse_line(line: str) -> Event | None:
    """The event of a protocol line, else None (not JSON, not an object, an unknown
    ``event``, a field of the wrong type)."""
    return parse_tagged(line, "event", EVENTS, _event)


def _event(kind: str, data: dict[str, Any]) -> Event | None:
    if kind == DONE:
        return Event(DONE, total=int_field(data, "total"), failed=int_field(data, "failed"))
    index = int_field(data, "index")
    if kind == STARTED:
        source, what = data.get("source"), data.get("kind")
        if not isinstance(source, str) or not isinstance(what, str):
            return None
        return Event(STARTED, index=index, total=int_field(data, "total"), source=source,
                     kind=what)
    if kind == PROGRESS:
        return Event(PROGRESS, index=index, points=int_field(data, "points"))
    result = ImportResult.from_json(data)
    return Event(RESULT, index=index, source=result.source, kind=result.kind,
                 points=result.points, result=result)
