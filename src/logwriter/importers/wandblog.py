"""The bytes of a wandb ``run-<id>.wandb`` file: the LevelDB log format, read with skips.

A 7-byte file header, then LevelDB log blocks (leveldb's doc/log_format.md,
a public format), with wandb's checksum::

    file header   ":W&B" (4 bytes) | magic u16 LE 0xBEE1 | version u8 (0)

    blocks of 32768 bytes from offset 0 (the header opens block 0); each holds
    physical records, and a block's last < 7 bytes are zero padding:

    offset  size  field
    0       4     crc     u32 LE: zlib CRC-32 of the data, seeded with the CRC-32 of the type byte
    4       2     length  u16 LE, bytes of data (never past the block's end)
    6       1     type    1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST (0: padding)
    7       N     data    a fragment of one logical record (a ``wandb.Record`` protobuf)

A logical record is a FULL record, or FIRST MIDDLE* LAST. What `read_log`
does with trouble, as LevelDB's reader: a physical record whose checksum,
type or length is wrong makes the rest of its block unreadable (the next
block starts a new physical record, so reading resyncs there), and a
fragment sequence it breaks is dropped; both are reported as damage. Bytes
that end inside a record are a torn tail (a live or crashed writer), not
damage.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

BLOCK = 32768
HEADER = 7
FILE_IDENT = b":W&B"
FILE_MAGIC = 0xBEE1
FILE_VERSION = 0
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_HEAD = struct.Struct("<IHB")
_TYPE_CRC = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}


class LogDamage(NamedTuple):
    offset: int
    skipped: int
    why: str

    def describe(self) -> str:
        return f"{self.skipped} damaged bytes at offset {self.offset} skipped ({self.why})"


class Torn(NamedTuple):
    offset: int


def check_header(data: bytes) -> str | None:
    """Why ``data`` does not start with a wandb log header, or None."""
    if len(data) < HEADER:
        return "shorter than the 7-byte header"
    ident, magic, version = data[:4], *struct.unpack_from("<HB", data, 4)
    if ident != FILE_IDENT or magic != FILE_MAGIC:
        return "no wandb log header (:W&B)"
    if version != FILE_VERSION:
        return f"log version {version} (this reader knows {FILE_VERSION})"
    return None


def read_log(path: Path, limit: int = -1) -> Iterator[bytes | LogDamage | Torn]:
    """Each logical record's bytes, in order, with damage and a torn tail reported
    where they are (of the first ``limit`` bytes only, when given). ValueError when
    the file header is wrong."""
    with open(path, "rb") as f:
        data = f.read(limit)
    problem = check_header(data)
    if problem:
        raise ValueError(problem)
    end = len(data)
    pos = HEADER
    parts: list[bytes] = []
    start = -1  # offset of the pending fragment sequence
    while pos < end:
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        if end - pos < HEADER:
            yield Torn(start if parts else pos)
            return
        crc, n, rtype = _HEAD.unpack_from(data, pos)
        if rtype == 0 and not any(data[pos:min(end, pos + left)]):  # zeros to the block's end
            if pos + left >= end:  # preallocated, or a write that never reached the disk
                if parts:
                    yield Torn(start)
                return
            yield LogDamage(pos, left, "zeroed bytes")
            parts = []
            pos += left
            continue
        bad = ""
        if rtype not in _TYPE_CRC:
            bad = f"record type {rtype}"
        elif HEADER + n > left:
            bad = "length past the block's end"
        elif pos + HEADER + n > end:
            yield Torn(start if parts else pos)
            return
        elif zlib.crc32(data[pos + HEADER:pos + HEADER + n], _TYPE_CRC[rtype]) != crc:
            bad = "checksum mismatch"
        if bad:
            if parts:
                yield LogDamage(start, pos - start, "a record cut by damage after it")
                parts = []
            yield LogDamage(pos, min(left, end - pos), bad)
            pos += left
            continue
        frag = data[pos + HEADER:pos + HEADER + n]
        if rtype in (FULL, FIRST):
            if parts:
                yield LogDamage(start, pos - start, "a record without its last fragment")
                parts = []
            if rtype == FULL:
                yield frag
            else:
                parts, start = [frag], pos
        elif not parts:
            yield LogDamage(pos, HEADER + n, "a fragment without its first")
        else:
            parts.append(frag)
            if rtype == LAST:
                yield b"".join(parts)
                parts = []
        pos += HEADER + n
    if parts:
        yield Torn(start)
