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
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import msgpack


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


KNOWN_TYPES = frozenset(int(t) for t in RecordType)

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


def pack_record(rtype: int, ts: float, body: Any) -> bytes:
    """Serialize one record. ``body`` must already be validated by the caller."""
    return msgpack.packb((rtype, ts, body), use_bin_type=True)


def unpack_records(payload: bytes, count: int, base_seq: int) -> list[Record]:
    """Decode ``count`` concatenated msgpack records from a frame payload.

    Raises ValueError when the payload does not hold exactly ``count``
    well-formed records; the frame's CRC passed, so this only happens for a
    writer bug or a forged frame, and the reader treats it as corruption.
    """
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=False,
        max_buffer_size=len(payload) + 1,
    )
    unpacker.feed(payload)
    out: list[Record] = []
    for i in range(count):
        try:
            obj = unpacker.unpack()
        except msgpack.OutOfData as exc:
            raise ValueError(f"payload holds {i} records, header says {count}") from exc
        except (ValueError, TypeError) as exc:  # bad msgpack; TypeError: unhashable map key
            raise ValueError(f"record {i} is not valid msgpack: {exc}") from exc
        if not isinstance(obj, (list, tuple)) or len(obj) != 3:
            raise ValueError(f"record {i} is not a [type, ts, body] array")
        rtype, ts, body = obj
        if not isinstance(rtype, int) or not isinstance(ts, (int, float)):
            raise ValueError(f"record {i} has a bad type or ts field")
        out.append(Record(base_seq + i, rtype, float(ts), body))
    if unpacker.tell() != len(payload):
        raise ValueError("payload has trailing bytes after the last record")
    return out
