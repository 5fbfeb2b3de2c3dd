"""runwal's on-disk format: records, frames, segments, the reader.

Shared by the SDK (logwriter) and the syncer; depends on msgpack and zstandard
only and holds no I/O policy (when to fsync, how to retry) -- that belongs to
the writer and the syncer.
"""

from typing import TYPE_CHECKING, Any

# The names below are loaded on first use (PEP 562): the SDK imports
# schema.frame/segment/records directly and should not pay for the reader
# and run-dir code in every training process's import time.
_EXPORTS = {
    "BadSegmentHeader": "schema.errors",
    "Corrupt": "schema.events",
    "FORMAT_VERSION": "schema.segment",
    "Frame": "schema.events",
    "Incomplete": "schema.events",
    "KNOWN_TYPES": "schema.records",
    "MAX_FRAME": "schema.frame",
    "NotARunDir": "schema.errors",
    "Record": "schema.records",
    "RecordTooLarge": "schema.errors",
    "RecordType": "schema.records",
    "RunDir": "schema.layout",
    "SchemaError": "schema.errors",
    "SegmentDamaged": "schema.events",
    "SegmentHeader": "schema.segment",
    "SegmentReader": "schema.reader",
    "TARGET_PAYLOAD": "schema.frame",
    "UnsupportedVersion": "schema.errors",
    "encode_frame": "schema.frame",
    "is_run_dir": "schema.layout",
    "iter_run_log": "schema.reader",
    "list_segments": "schema.segment",
    "pack_record": "schema.records",
    "scan": "schema.reader",
    "segment_name": "schema.segment",
    "split_frames": "schema.frame",
    "unpack_records": "schema.records",
}

if TYPE_CHECKING:
    from schema.errors import (
        BadSegmentHeader,
        NotARunDir,
        RecordTooLarge,
        SchemaError,
        UnsupportedVersion,
    )
    from schema.events import Corrupt, Frame, Incomplete, SegmentDamaged
    from schema.frame import MAX_FRAME, TARGET_PAYLOAD, encode_frame, split_frames
    from schema.layout import RunDir, is_run_dir
    from schema.reader import SegmentReader, iter_run_log, scan
    from schema.records import KNOWN_TYPES, Record, RecordType, pack_record, unpack_records
    from schema.segment import (
        FORMAT_VERSION,
        SegmentHeader,
        list_segments,
        segment_name,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'schema' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FORMAT_VERSION",
    "KNOWN_TYPES",
    "MAX_FRAME",
    "TARGET_PAYLOAD",
    "BadSegmentHeader",
    "Corrupt",
    "Frame",
    "Incomplete",
    "NotARunDir",
    "Record",
    "RecordTooLarge",
    "RecordType",
    "RunDir",
    "SchemaError",
    "SegmentDamaged",
    "SegmentHeader",
    "SegmentReader",
    "UnsupportedVersion",
    "encode_frame",
    "is_run_dir",
    "iter_run_log",
    "list_segments",
    "pack_record",
    "scan",
    "segment_name",
    "split_frames",
    "unpack_records",
]
