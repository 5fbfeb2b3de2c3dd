"""Record types and the shape of each record's body.

A record is the msgpack array ``[type, ts, body]``: ``type`` a small int from
`RecordType`, ``ts`` float Unix seconds taken when the user made the call (not
when the writer thread wrote it), ``body`` a map whose keys depend on the type
(see the table in docs/FORMAT.md). The record's sequence number is not stored
in it: it is the frame's ``base_seq`` plus the record's index in the frame,
which keeps records small and makes seqs dense by construction.

A reader that meets a type it does not know keeps it as a `Record` whose
``kind`` is None; consumers skip such records with a note. New types can thus
be added without a format version bump.

A *well-formed* record (docs/FORMAT.md, "Records") is a 3-array with an int
type >= 0 (not a bool), a number ts, valid UTF-8, no array or map as a map
key and at most MAX_DEPTH levels of nesting. `unpack_records` returns the
others as `Malformed`: each costs its own seq, not its frame. A well-formed
record whose body is not the documented shape is returned as is;
`body_problem` says what a consumer will skip.
"""

from __future__ import annotations

import enum
import math
from typing import Any, NamedTuple

import msgpack

from schema.msgwalk import value_end


class RecordType(enum.IntEnum):
    RUN = 1  # start metadata: host, user, pid, python, argv, git, tags, notes, ...
    CONFIG = 2  # config delta: keys set since the last config record
    HISTORY = 3  # {"step": int, "data": {flat_key: value}}
    SUMMARY = 4  # summary delta
    FILE = 5  # {"path", "size", "sha256", "policy"}; path relative to files/
    STATS = 6  # system metrics: {"cpu": ..., "gpu.0.util": ...}
    CONSOLE = 7  # {"stream": "stdout"|"stderr", "text": str}
    METRIC_DEF = 8  # {"name", "step_metric", "summary", "hidden"}
    ALERT = 9  # {"title", "text", "level"}
    EXIT = 10  # {"code", "status", "runtime"}
    RESUME = 11  # {"pid", "host"}: a later process continued this run
    MEDIA = 12  # {"key", "step", "kind", "items": [...]}: image/audio/video/html/table/histogram
    ARTIFACT = 13  # {"name", "type", "version", "digest", "aliases", "entries": [...], ...}
    ARTIFACT_USE = 14  # {"name", "type", "version", "digest", "source_run", "asked"}


KNOWN_TYPES = frozenset(int(t) for t in RecordType)

# A record nests at most this deep (its own array is level 1; docs/FORMAT.md,
# "Records"). The SDK writes at most 3 + 32 levels; a deeper record is
# malformed, so every consumer may recurse into bodies without a limit of its own.
MAX_DEPTH = 64

# Kinds a `media` record may carry (docs/FORMAT.md, "Media and artifacts").
MEDIA_KINDS = ("image", "audio", "video", "html", "table", "histogram")

# Exit statuses a run can end with; the syncer maps them to MLflow's.
EXIT_STATUSES = ("finished", "failed", "killed", "preempted")


class Record(NamedTuple):
    """One decoded record. ``seq`` comes from its frame, not from the bytes."""

    seq: int
    type: int
    ts: float
    body: Any

    @property
    def kind(self) -> str | None:
        """Lower-case type name, or None for a type this reader does not know."""
        if self.type in KNOWN_TYPES:
            return RecordType(self.type).name.lower()
        return None


def body_problem(rtype: int, body: Any) -> str | None:
    """Why a known type's body does not have its documented shape, or None.

    Such a record is well formed (the reader returns it); consumers skip it,
    or the field, with a note, and ``runwal verify`` lists it as a note, not
    as damage (docs/FORMAT.md, "Records"). Only what a consumer relies on is
    checked: a map body; history's ``step`` (int >= 0) and ``data`` (a map);
    ``file``'s ``path`` and ``console``'s ``text`` (strings).
    """
    if rtype not in KNOWN_TYPES:
        return None
    name = RecordType(rtype).name.lower()
    if type(body) is not dict:
        return f"{name} body is {msgpack_kind(body)}, not a map"
    if rtype == RecordType.HISTORY:
        step = body.get("step")
        if type(step) is not int or step < 0:
            return f"history step {step!r:.40} is not an integer >= 0"
        if type(body.get("data")) is not dict:
            return "history record without a data map"
    elif rtype == RecordType.FILE and type(body.get("path")) is not str:
        return "file record without a path string"
    elif rtype == RecordType.CONSOLE and type(body.get("text")) is not str:
        return "console record without a text string"
    return None


def pack_record(rtype: int, ts: float, body: Any) -> bytes:
    """Serialize one record. ``body`` must already be validated by the caller."""
    return msgpack.packb((rtype, ts, body), use_bin_type=True)


class Malformed(NamedTuple):
    """A record that is a complete msgpack value but not a well-formed record."""

    seq: int
    reason: str


def unpack_records(payload: bytes, count: int, base_seq: int
                   ) -> tuple[list[Record], list[Malformed]]:
    """Decode ``count`` concatenated msgpack records from a frame payload.

    Returns the well-formed records and the malformed ones (docs/FORMAT.md,
    "Records": a complete msgpack value that is no ``[type, ts, body]``, a bool
    or negative type, a ts that is no number, invalid UTF-8, a map keyed by an
    array or map, nesting deeper than MAX_DEPTH): each costs its own seq only.
    Raises ValueError when the payload is not exactly ``count`` msgpack values
    (too few, trailing bytes, bytes that are no msgpack): the frame's CRC
    passed, so that is a writer bug or a forged frame, and the whole frame is
    corrupt.
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
                                max_buffer_size=len(payload) + 1)
    unpacker.feed(payload)
    unpack = unpacker.unpack
    good: list[Record] = []
    bad: list[Malformed] = []
    seq = base_seq
    try:
        for seq in range(base_seq, base_seq + count):
            obj = unpack()
            # The common case inline (this loop is the reader's hot path); `_record`
            # says what is wrong with any other.
            if type(obj) is list and len(obj) == 3:
                rtype, ts, body = obj
                kind = type(body)
                if (type(rtype) is int and rtype >= 0 and (type(ts) is float or type(ts) is int)
                        and ((kind is not dict and kind is not list)
                             or not _too_deep(body, MAX_DEPTH - 1))):
                    good.append(Record(seq, rtype, float(ts), body))
                    continue
            rec = _record(obj, seq)
            assert isinstance(rec, Malformed)
            bad.append(rec)
    except msgpack.OutOfData as exc:
        raise ValueError(f"payload holds {seq - base_seq} records, header says {count}"
                         ) from exc
    except (ValueError, TypeError):  # one bad record (or bad bytes): find out which
        return _unpack_one_by_one(payload, count, base_seq)
    if unpacker.tell() != len(payload):
        raise ValueError("payload has trailing bytes after the last record")
    return good, bad


def _record(obj: Any, seq: int, *, depth_known: bool = False) -> Record | Malformed:
    """``obj`` as a Record if it is a well-formed one, else why not."""
    if type(obj) is not list or len(obj) != 3:
        return Malformed(seq, "not a [type, ts, body] array")
    rtype, ts, body = obj
    if type(rtype) is not int or rtype < 0:  # bool is an int subclass: not a type
        return Malformed(seq, f"record type {_short(rtype)} is not an integer >= 0")
    if type(ts) is not float and type(ts) is not int:
        return Malformed(seq, f"ts {_short(ts)} is not a number")
    if not depth_known and _too_deep(body, MAX_DEPTH - 1):  # the record's array is level 1
        return Malformed(seq, f"nested deeper than {MAX_DEPTH} levels")
    return Record(seq, rtype, float(ts), body)


_CONTAINERS = frozenset((list, dict))


def _too_deep(value: Any, room: int) -> bool:
    """Does ``value`` hold arrays or maps nested more than ``room`` deep?"""
    if type(value) not in _CONTAINERS:
        return False
    if room == 0:
        return True
    room -= 1
    for item in value.values() if type(value) is dict else value:
        if type(item) in _CONTAINERS and _too_deep(item, room):
            return True
    return False


def _unpack_one_by_one(payload: bytes, count: int, base_seq: int
                       ) -> tuple[list[Record], list[Malformed]]:
    """The slow path: find each record's bytes with `value_end`, decode it alone."""
    good: list[Record] = []
    bad: list[Malformed] = []
    pos = 0
    for i in range(count):
        seq = base_seq + i
        if pos >= len(payload):
            raise ValueError(f"payload holds {i} records, header says {count}")
        end, depth = value_end(payload, pos)  # ValueError: boundaries lost
        if depth > MAX_DEPTH:
            bad.append(Malformed(seq, f"nested deeper than {MAX_DEPTH} levels"))
        else:
            try:
                obj = msgpack.unpackb(payload[pos:end], raw=False, strict_map_key=False)
            except UnicodeDecodeError:
                bad.append(Malformed(seq, "a string is not valid UTF-8"))
            except TypeError:
                bad.append(Malformed(seq, "a map key is an array or a map"))
            except ValueError as exc:
                bad.append(Malformed(seq, f"undecodable value: {exc}"))
            else:
                rec = _record(obj, seq, depth_known=True)
                if isinstance(rec, Record):
                    good.append(rec)
                else:
                    bad.append(rec)
        pos = end
    if pos != len(payload):
        raise ValueError("payload has trailing bytes after the last record")
    return good, bad


_KINDS = {type(None): "nil", bool: "a bool", int: "an integer", float: "a float",
          str: "a string", bytes: "bin", list: "an array", dict: "a map"}


def msgpack_kind(value: Any) -> str:
    """What msgpack calls the kind of ``value``: "nil", "an array", ... (for notes)."""
    return _KINDS.get(type(value), "an ext value")


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= 40 else text[:39] + "…"


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float if it is a real number (not a bool), else None.

    For times read from run.json or records (``created``, ``ts``), which a
    forged file may make NaN, infinite, huge or not a number at all.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        out = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return out if math.isfinite(out) else None
