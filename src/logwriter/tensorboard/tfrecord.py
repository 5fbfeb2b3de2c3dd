"""The bytes of a TensorBoard event file: TFRecord framing, read from any offset.

An event file is TFRecords back to back, nothing before the first::

    offset  size  field
    0       8     length        u64 little-endian, N = bytes of data
    8       4     length_crc    u32 little-endian, masked CRC-32C of the 8 length bytes
    12      N     data          one serialized ``tensorboard.Event`` protobuf
    12+N    4     data_crc      u32 little-endian, masked CRC-32C of the N data bytes

    masked_crc(x) = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) mod 2**32

Why our own framing (30 lines) and not tensorboard's ``EventFileLoader``:
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
import struct
from collections.abc import Callable
from typing import NamedTuple

HEADER = 12  # length + length_crc
FOOTER = 4  # data_crc
MAX_RECORD = 256 << 20  # a longer length is noise, not a record
READ_CHUNK = 64 << 20  # bytes read per call at most (a huge file is read in pieces)
_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _load_crc32c() -> Callable[[bytes], int]:
    """CRC-32C: the ``crc32c`` package's (native, what tensorboardX uses too) when it is
    installed, else a table in Python (~8 us for a 50-byte record). Not tensorboardX's
    module: importing any of tensorboardX imports torch when it is installed (~1 s)."""
    try:
        os.environ.setdefault("CRC32C_SW_MODE", "auto")
        from crc32c import crc32c

        return crc32c
    except ImportError:
        pass
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)

    def crc32c_py(data: bytes) -> int:
        c = 0xFFFFFFFF
        for b in data:
            c = table[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF

    return crc32c_py


_crc32c = _load_crc32c()


def masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


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


def _header_ok(buf: bytes | memoryview, pos: int) -> int:
    """The data length of a record whose header at ``pos`` validates, else -1."""
    if len(buf) - pos < HEADER:
        return -1
    head = bytes(buf[pos:pos + 8])
    if _U32.unpack_from(buf, pos + 8)[0] != masked_crc(head):
        return -1
    n: int = _U64.unpack(head)[0]
    return n if n <= MAX_RECORD else -1


def _resync(buf: bytes, pos: int) -> int:
    """The first position after ``pos`` where a whole valid record (or a torn one at the
    very end) starts, else len(buf)."""
    end = len(buf)
    for p in range(pos + 1, end - HEADER + 1):
        n = _header_ok(buf, p)
        if n < 0:
            continue
        stop = p + HEADER + n + FOOTER
        if stop > end:
            return p  # a torn record at the end: the next read decides
        if _U32.unpack_from(buf, stop - FOOTER)[0] == masked_crc(buf[p + HEADER:stop - FOOTER]):
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
        n = _header_ok(buf, pos)
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
        data = buf[pos + HEADER:stop - FOOTER]
        if _U32.unpack_from(buf, stop - FOOTER)[0] != masked_crc(data):
            damage.append(Damage(name, offset + pos, stop - pos))
        else:
            records.append((offset + pos, data))
        pos = stop
    if torn and pos == 0 and end >= limit:
        # One record larger than the read window: read it whole.
        n = _header_ok(buf, 0)
        if n > 0:
            return read_records(path, offset, HEADER + n + FOOTER)
    return Chunk(records, offset + pos, torn, damage)


def frame(data: bytes) -> bytes:
    """One record's bytes (for tests and tools that write event files)."""
    head = _U64.pack(len(data))
    return head + _U32.pack(masked_crc(head)) + data + _U32.pack(masked_crc(data))
