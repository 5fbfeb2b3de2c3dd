"""Damage functions for golden corruption fixtures and property tests.

Each function takes the bytes of a segment and returns damaged bytes; a
`Damage` names one such change so that a test can apply it to a file, print
it when it fails, and ask which frames it touches. "Touches" is the promise
the reader makes (docs/FORMAT.md, "Reader semantics"): a single damage loses
at most the frames whose bytes it changed, never the rest of the file.

    seg.write_bytes(Damage("flip", 120, 3).apply(seg.read_bytes()))

`torn_append` reproduces the writer's torn write: the frame's bytes but the
last are on disk (a crash, or a reader polling mid-``pwrite``), then the
write completes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schema.checksum import crc
from schema.frame import HEADER
from schema.reader import Frame, scan
from schema.segment import SEGMENT_HEADER_SIZE, SegmentHeader

KINDS = ("flip", "truncate", "insert", "delete")


def flip_bit(data: bytes, pos: int, bit: int = 0) -> bytes:
    """``data`` with bit ``bit`` (0 = least significant) of byte ``pos`` inverted."""
    out = bytearray(data)
    out[pos] ^= 1 << bit
    return bytes(out)


def truncate(data: bytes, length: int) -> bytes:
    """The first ``length`` bytes: a file cut short by a crash or a bad copy."""
    return data[:length]


def insert_bytes(data: bytes, pos: int, extra: bytes) -> bytes:
    """``extra`` inserted before byte ``pos`` (``pos == len(data)`` appends)."""
    return data[:pos] + extra + data[pos:]


def delete_bytes(data: bytes, start: int, stop: int) -> bytes:
    """``data`` without bytes ``start`` .. ``stop - 1``."""
    return data[:start] + data[stop:]


@dataclass(frozen=True)
class Damage:
    """One damage: ``kind`` at byte ``pos``.

    ``arg`` is the bit for "flip", the inserted bytes for "insert" and the end
    (exclusive) of the removed range for "delete"; "truncate" cuts at ``pos``.
    """

    kind: str
    pos: int
    arg: int | bytes = 0

    def apply(self, data: bytes) -> bytes:
        if self.kind == "flip":
            assert isinstance(self.arg, int)
            return flip_bit(data, self.pos, self.arg)
        if self.kind == "truncate":
            return truncate(data, self.pos)
        if self.kind == "insert":
            assert isinstance(self.arg, bytes)
            return insert_bytes(data, self.pos, self.arg)
        if self.kind == "delete":
            assert isinstance(self.arg, int)
            return delete_bytes(data, self.pos, self.arg)
        raise ValueError(f"unknown damage kind {self.kind!r}")

    def touches(self, start: int, end: int) -> bool:
        """Whether the bytes ``start`` .. ``end - 1`` (one frame, the header) are changed.

        Bytes inserted exactly between two frames touch neither; a truncation
        touches every frame that is no longer whole.
        """
        if self.kind == "flip":
            return start <= self.pos < end
        if self.kind == "truncate":
            return end > self.pos
        if self.kind == "insert":
            return start < self.pos < end
        assert isinstance(self.arg, int)
        return self.pos < end and start < self.arg

    def apply_to_file(self, path: Path) -> None:
        path.write_bytes(self.apply(path.read_bytes()))


@dataclass(frozen=True)
class Span:
    """Where a frame of an undamaged segment lies and which seqs it holds."""

    offset: int
    size: int
    base_seq: int
    count: int

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def seqs(self) -> range:
        return range(self.base_seq, self.base_seq + self.count)


def frame_spans(segment: bytes) -> list[Span]:
    """Spans of the frames of a clean segment (fails if it is not clean)."""
    header = SegmentHeader.decode(segment)
    events = list(scan(segment[SEGMENT_HEADER_SIZE:], header.seed, header.base_seq,
                       base=SEGMENT_HEADER_SIZE))
    assert all(isinstance(e, Frame) for e in events), events
    return [Span(e.offset, e.size, e.base_seq, len(e.records)) for e in events
            if isinstance(e, Frame)]


@contextmanager
def torn_append(path: Path, data: bytes, keep: int | None = None) -> Iterator[None]:
    """Append ``data[:keep]`` (default: all but the last byte); the rest on exit.

    Inside the block the file ends mid-frame, as after a crash during the
    writer's ``pwrite`` or while a reader polls a live segment.
    """
    keep = len(data) - 1 if keep is None else keep
    with open(path, "ab") as fh:
        fh.write(data[:keep])
    yield
    with open(path, "ab") as fh:
        fh.write(data[keep:])


# -- forged frames: valid CRCs around bytes no writer would produce ---------------------


def forge_frame(payload: bytes, seed: int, *, base_seq: int = 0, count: int = 1, flags: int = 0,
                length: int | None = None) -> bytes:
    """A frame whose header and payload CRCs are valid whatever the fields say.

    ``length`` overrides the header's length field (a crafted length); the
    payload CRC still covers the bytes actually appended.
    """
    head = HEADER.pack(len(payload) if length is None else length, flags, count, base_seq)
    return b"".join((head, struct.pack("<I", crc(head, seed)), payload,
                     struct.pack("<I", crc(payload, seed))))


def zstd_rle(size: int, byte: int = 0) -> bytes:
    """A valid zstd frame that expands to ``size`` copies of ``byte`` (a decompression bomb).

    Built by hand from RLE blocks (RFC 8878 section 3.1.1): 4 bytes per 128 KiB
    of output, so a few KiB claim gigabytes. No content size in the header, 128
    KiB window, no checksum.
    """
    block = 128 * 1024
    out = [struct.pack("<I", 0xFD2FB528), bytes([0x00, 0x38])]  # descriptor, window 2**17
    while True:
        n = min(size, block)
        size -= n
        last = int(size == 0)
        out.append(((n << 3) | (1 << 1) | last).to_bytes(3, "little") + bytes([byte]))
        if last:
            return b"".join(out)
