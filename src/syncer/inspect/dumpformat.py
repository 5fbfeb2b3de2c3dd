"""How ``runwal dump`` spells a record as one JSON object, and its --type names.

Every line starts with ``seq``, ``type`` (a name) and ``ts``; the body follows
under its natural fields: history as ``step`` + ``data``; config, summary and
stats deltas under ``data`` (their keys are user or metric names and could
collide with seq/type/ts); artifact and artifact_use spread with their own
``type`` as ``artifact_type``; other bodies spread. A type this runwal does not
know keeps its raw body: ``{"seq", "type": "unknown", "type_id", "ts", "body"}``.
Values the log holds that JSON lacks (NaN, bin, ext, non-string keys) are
spelled by `syncer.inspect.spelling.spell`, the one spelling of every command.
"""

from __future__ import annotations

from typing import Any

from schema.records import KNOWN_TYPES, Record, RecordType
from syncer.errors import BadOption
from syncer.inspect.spelling import spell

UNKNOWN = -1  # --type unknown: every type this runwal lacks


TYPE_NAMES = {t.name.lower(): int(t) for t in RecordType}
_DATA_TYPES = {RecordType.CONFIG, RecordType.SUMMARY, RecordType.STATS}
_HEAD = ("seq", "type", "ts")
_ARTIFACT_TYPES = {RecordType.ARTIFACT, RecordType.ARTIFACT_USE}


def parse_types(names: tuple[str, ...]) -> set[int] | None:
    """--type values (names or numbers, "unknown" for types this runwal lacks)."""
    if not names:
        return None
    chosen: set[int] = set()
    for raw in names:
        for name in raw.split(","):
            key = name.strip().lower()
            if key in TYPE_NAMES:
                chosen.add(TYPE_NAMES[key])
            elif key == "unknown":
                chosen.add(UNKNOWN)
            elif key.isdigit():
                chosen.add(int(key))
            else:
                raise BadOption(
                    f"unknown record type {name!r}",
                    hint="one of " + ", ".join([*TYPE_NAMES, "unknown"]) + ", or a type number",
                )
    return chosen


def record_json(rec: Record) -> dict[str, Any]:
    """A record as one ``dump`` line (see `dump`'s help for the shapes), spelled."""
    return spell(_record_fields(rec))


def _record_fields(rec: Record) -> dict[str, Any]:
    kind, body = rec.kind, rec.body
    if kind is None:
        return {"seq": rec.seq, "type": "unknown", "type_id": rec.type, "ts": rec.ts, "body": body}
    out: dict[str, Any] = {"seq": rec.seq, "type": kind, "ts": rec.ts}
    if not isinstance(body, dict):
        out["body"] = body
    elif rec.type == RecordType.HISTORY:
        out["step"], out["data"] = body.get("step"), body.get("data")
        out.update((k, v) for k, v in body.items() if k not in ("step", "data", *_HEAD))
    elif rec.type in _DATA_TYPES:
        out["data"] = body
    elif rec.type in _ARTIFACT_TYPES and not any(k in _HEAD[::2] or k == "artifact_type"
                                                 for k in body):
        out.update(("artifact_type" if k == "type" else k, v) for k, v in body.items())
    elif any(k in _HEAD for k in body):
        out["body"] = body
    else:
        out.update(body)
    return out


def wanted(rec: Record, types: set[int] | None) -> bool:
    """Does ``rec`` pass the --type filter (None: no filter)?"""
    if types is None:
        return True
    return rec.type in types or (UNKNOWN in types and rec.type not in KNOWN_TYPES)
