"""Reading a TensorBoard event file's TFRecords from any offset.

The bytes of one record (length, length_crc, data, data_crc) and their checks
are schema.tfrecord's, the one place they are made and documented (the syncer
writes event files with it). What lives here is the reading: from an offset,
in bounded chunks, torn tails told from damage, resync after damage.

Why our own reader (30 lines) and not tensorboard's ``EventFileLoader``:
its reader without TensorFlow cannot start at an offset (the stub refuses
``start_offset``), which a tailer or a re-import needs; at a record whose CRC
fails it stops for good (every later ``Load()`` meets the same record again);
and it brings grpcio and werkzeug into a training process. The decoding of
the records themselves is the published protobuf messages' (events.py).

What `read_records` reports, as the WAL's reader does (never confusing the
two): a *torn* tail (the bytes end inside a record: a writer is live, or
crashed; the next read starts again at that record) is no damage; a record
whose checksums fail is *corrupt*: it is skipped, counted, and reading goes
on at the next record that validates.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from schema.tfrecord import FOOTER, HEADER, data_length, data_ok

READ_CHUNK = 64 << 20  # bytes read per call at most (a huge file is read in pieces)


class Damage(NamedTuple):
    """Bytes ``offset .. offset + skipped`` of ``path`` failed their checksums."""

    path: str
    offset: int
    skipped: int

    def describe(self) -> str:
        return f"{self.path}: {self.skipped} damaged bytes at offset {self.offset} skipped"


class Chunk(NamedTuple):
    """What one `read_records` call found.

    ``records``: (offset, data) of each valid record; ``offset``: where the next
    read starts (a torn record's start, or the end of what was read); ``torn``:
    the bytes end inside a record; ``damage``: what was skipped.
    """

    records: list[tuple[int, bytes]]
    offset: int
    torn: bool
    damage: list[Damage]


def _resync(buf: bytes, pos: int) -> int:
    """The first position after ``pos`` where a whole valid record (or a torn one at the
    very end) starts, else len(buf)."""
    end = len(buf)
    for p in range(pos + 1, end - HEADER + 1):
        n = data_length(buf, p)
        if n < 0:
            continue
        if p + HEADER + n + FOOTER > end:
            return p  # a torn record at the end: the next read decides
        if data_ok(buf, p, n):
            return p
    return end


def read_records(path: str | os.PathLike[str], offset: int = 0,
                 limit: int = READ_CHUNK) -> Chunk:
    """Read the records of ``path`` from byte ``offset``, at most about ``limit`` bytes.

    Call again with the returned ``offset`` to go on (a growing file: when it
    grew). Raises OSError when the file cannot be read.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        f.seek(offset)
        buf = f.read(limit)
    records: list[tuple[int, bytes]] = []
    damage: list[Damage] = []
    pos, end = 0, len(buf)
    torn = False
    while pos < end:
        if end - pos < HEADER:
            torn = True
            break
        n = data_length(buf, pos)
        if n < 0:
            if not any(buf[pos:]):  # zeros to the end: preallocated or a torn write
                torn = True
                break
            nxt = _resync(buf, pos)
            damage.append(Damage(name, offset + pos, nxt - pos))
            pos = nxt
            continue
        stop = pos + HEADER + n + FOOTER
        if stop > end:
            torn = True  # the writer is still at it, or crashed mid-record
            break
        if data_ok(buf, pos, n):
            records.append((offset + pos, buf[pos + HEADER:stop - FOOTER]))
        else:
            damage.append(Damage(name, offset + pos, stop - pos))
        pos = stop
    if torn and pos == 0 and end >= limit:
        # One record larger than the read window: read it whole.
        n = data_length(buf, 0)
        if n > 0:
            return read_records(path, offset, HEADER + n + FOOTER)
    return Chunk(records, offset + pos, torn, damage)

