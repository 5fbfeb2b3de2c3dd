"""runwal's on-disk format: records, frames, segments, the reader.

Shared by the SDK (logwriter) and the syncer; depends on msgpack and zstandard
only and holds no I/O policy (when to fsync, how to retry) -- that belongs to
the writer and the syncer.
"""

from schema.errors import (
    BadSegmentHeader,
    NotARunDir,
    RecordTooLarge,
    SchemaError,
    UnsupportedVersion,
)
from schema.frame import MAX_FRAME, TARGET_PAYLOAD, encode_frame, split_frames
from schema.layout import RunDir, is_run_dir
from schema.reader import (
    Corrupt,
    Frame,
    Incomplete,
    SegmentDamaged,
    SegmentReader,
    iter_run_log,
    scan,
)
from schema.records import KNOWN_TYPES, Record, RecordType, pack_record, unpack_records
from schema.segment import (
    FORMAT_VERSION,
    SegmentHeader,
    list_segments,
    segment_name,
)

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
