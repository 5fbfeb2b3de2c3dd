"""The bytes of one frame: a group of records written in one ``os.write``.

Layout, little-endian (the same table is in docs/FORMAT.md)::

    offset  size  field
    0       4     length       u32  bytes of payload as stored (after compression)
    4       1     flags        u8   bit 0: payload is zstd-compressed; bits 1-7: 0
    5       2     count        u16  records in the payload (>= 1)
    7       8     base_seq     u64  seq of the first record; record i has base_seq + i
                                    (base_seq + count <= 2**64: every seq fits a u64)
    15      4     header_crc   u32  salted CRC-32 of bytes 0..14
    19      N     payload           `count` concatenated msgpack records [type, ts, body]
    19+N    4     payload_crc  u32  salted CRC-32 of the stored payload bytes

A frame is 23 + N bytes. The header has its own CRC so that a reader can tell a
plausible frame start from noise before it trusts ``length``; both CRCs are
seeded with the segment salt (see checksum.py).

Payloads are kept near TARGET_PAYLOAD raw bytes and at most `frame_records`
records (a group commit of many records becomes several frames) so that one
damaged byte costs one frame: at most 256 records, and in a run's first 2,048
records at most an eighth of the records before it (16 at least), so a short
run written in one flush is not one frame. Measured on 20,000 rows that costs
nothing (7.8 B/point for 10 scalars, 10.9 for 1, as with 64 KiB frames); a run
of 1,000 one-scalar rows takes 13.2 B/point instead of 11.1. MAX_FRAME
bounds both the stored length and the decompressed size: a reader never
allocates more than that for one frame, whatever a damaged length field says.
A compressed payload is exactly one zstd frame whose window and declared size
are checked against MAX_FRAME before anything is allocated (`decode_payload`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from schema.checksum import crc
from schema.errors import RecordTooLarge

HEADER = struct.Struct("<IBHQ")  # length, flags, count, base_seq
HEADER_SIZE = HEADER.size + 4  # + header_crc = 19
TRAILER_SIZE = 4
OVERHEAD = HEADER_SIZE + TRAILER_SIZE  # 23
MAX_FRAME = 8 * 1024 * 1024
TARGET_PAYLOAD = 64 * 1024
MAX_COUNT = 0xFFFF
MAX_RECORDS = 256  # records the writer puts in one frame (the format allows MAX_COUNT)
MIN_RECORDS = 16
SEQ_END = 1 << 64  # a frame's last seq must fit a u64: base_seq + count <= SEQ_END
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

FLAG_ZSTD = 0x01
KNOWN_FLAGS = FLAG_ZSTD

# Compression only pays above a few hundred bytes; below it zstd's own frame
# header eats the gain.
COMPRESS_MIN = 256
ZSTD_LEVEL = 3

_U32 = struct.Struct("<I")
# No module-level zstd contexts: python-zstandard's (de)compressor objects must not
# be used from two threads at once (the syncer decodes runs in parallel; it
# segfaulted or raised "Data corruption detected"). A fresh one costs ~8 us.


class FrameHeader:
    """The parsed fixed part of a frame (a slotted class: no dataclasses import on
    the SDK's path, and a NamedTuple's ``count`` would shadow tuple.count)."""

    __slots__ = ("base_seq", "count", "flags", "length")

    def __init__(self, length: int, flags: int, count: int, base_seq: int) -> None:
        self.length = length
        self.flags = flags
        self.count = count
        self.base_seq = base_seq

    def __repr__(self) -> str:
        return (f"FrameHeader(length={self.length}, flags={self.flags}, "
                f"count={self.count}, base_seq={self.base_seq})")

    @property
    def size(self) -> int:
        """Bytes the whole frame occupies on disk."""
        return OVERHEAD + self.length


def encode_frame(packed: list[bytes], base_seq: int, seed: int, *, compress: bool = True) -> bytes:
    """Build one frame from already-packed records (see records.pack_record)."""
    if not packed or len(packed) > MAX_COUNT:
        raise ValueError(f"a frame holds 1..{MAX_COUNT} records, got {len(packed)}")
    raw = b"".join(packed)
    flags = 0
    payload = raw
    if compress and len(raw) >= COMPRESS_MIN:
        import zstandard  # first use is on the SDK's writer thread, not in `import logwriter`

        squeezed = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True).compress(raw)
        if len(squeezed) < len(raw):
            payload, flags = squeezed, FLAG_ZSTD
    if len(raw) > MAX_FRAME or len(payload) > MAX_FRAME:
        raise RecordTooLarge(f"frame payload of {len(raw)} bytes exceeds MAX_FRAME ({MAX_FRAME})")
    head = HEADER.pack(len(payload), flags, len(packed), base_seq)
    return b"".join(
        (head, _U32.pack(crc(head, seed)), payload, _U32.pack(crc(payload, seed)))
    )


def frame_records(base_seq: int) -> int:
    """How many records the writer puts in a frame starting at ``base_seq``: an eighth
    of the seqs before it, between MIN_RECORDS and MAX_RECORDS."""
    return max(MIN_RECORDS, min(MAX_RECORDS, base_seq // 8))


def split_frames(
    packed: Iterable[bytes], base_seq: int, seed: int, *, compress: bool = True
) -> Iterator[bytes]:
    """Group packed records into frames of about TARGET_PAYLOAD raw bytes and at most
    `frame_records` records each."""
    batch: list[bytes] = []
    size = 0
    seq = base_seq
    cap = frame_records(seq)
    for rec in packed:
        if batch and (size + len(rec) > TARGET_PAYLOAD or len(batch) == cap):
            yield encode_frame(batch, seq, seed, compress=compress)
            seq += len(batch)
            batch, size = [], 0
            cap = frame_records(seq)
        batch.append(rec)
        size += len(rec)
    if batch:
        yield encode_frame(batch, seq, seed, compress=compress)


def parse_header(buf: bytes | memoryview, offset: int, seed: int) -> FrameHeader | None:
    """Return the header at ``offset`` if its CRC and fields are valid, else None.

    The caller must ensure HEADER_SIZE bytes are available.
    """
    length, flags, count, base_seq = HEADER.unpack_from(buf, offset)
    if length > MAX_FRAME or count == 0 or flags & ~KNOWN_FLAGS or base_seq + count > SEQ_END:
        return None
    (stored,) = _U32.unpack_from(buf, offset + HEADER.size)
    if crc(buf[offset : offset + HEADER.size], seed) != stored:
        return None
    return FrameHeader(length, flags, count, base_seq)


def check_payload(buf: bytes | memoryview, offset: int, header: FrameHeader, seed: int) -> bool:
    """True when the stored payload at a frame starting at ``offset`` matches its CRC."""
    start = offset + HEADER_SIZE
    end = start + header.length
    (stored,) = _U32.unpack_from(buf, end)
    return crc(buf[start:end], seed) == stored


def decode_payload(stored: bytes, flags: int) -> bytes:
    """Undo compression, never producing more than MAX_FRAME bytes.

    A compressed payload must be exactly one zstd frame (RFC 8878): nothing
    before or after it, a window and a declared content size of at most
    MAX_FRAME (a decoder must refuse before allocating), and a content checksum
    that matches when the frame has one. Raises ValueError otherwise.
    """
    if not flags & FLAG_ZSTD:
        return stored
    import zstandard

    if stored[:4] != ZSTD_MAGIC:
        raise ValueError("compressed payload is not a zstd frame (bad magic)")
    try:
        params = zstandard.get_frame_parameters(stored)
    except zstandard.ZstdError as exc:
        raise ValueError(f"bad zstd frame header: {exc}") from exc
    try:
        if params.window_size > MAX_FRAME:
            raise ValueError(f"zstd window of {params.window_size} bytes exceeds MAX_FRAME")
        if params.content_size != zstandard.CONTENTSIZE_UNKNOWN and (
                params.content_size > MAX_FRAME):
            raise ValueError(f"zstd frame declares {params.content_size} bytes, over MAX_FRAME")
        # One frame only (allow_extra_data=False refuses a second frame or junk after
        # it); output beyond MAX_FRAME is an error, not an allocation.
        return zstandard.ZstdDecompressor(max_window_size=MAX_FRAME).decompress(
            stored, max_output_size=MAX_FRAME, read_across_frames=False,
            allow_extra_data=False)
    except zstandard.ZstdError as exc:  # not a ValueError: the reader would not catch it
        sized = params.content_size != zstandard.CONTENTSIZE_UNKNOWN
        why = "" if sized else " (corrupt, or it exceeds MAX_FRAME decompressed)"
        raise ValueError(f"bad zstd payload{why}: {exc}") from exc
