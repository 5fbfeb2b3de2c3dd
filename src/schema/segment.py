"""Segment files: the 32-byte header and how segments are named.

A run's log is a series of append-only segment files in ``<run>/log/``, named
``<base_seq:020d>.seg`` so that lexical order is seq order. A writer opens a
new segment when it starts (``resume`` never appends to an old one) and when
the current one passes its size limit.

Header layout, little-endian (the same table is in docs/FORMAT.md)::

    offset  size  field
    0       4     magic       b"RWAL"
    4       2     version     u16  FORMAT_VERSION (1)
    6       2     flags       u16  bits 0-3 codec (0 none, 1 zstd allowed); bits 4-7
                                   checksum (0 = zlib CRC-32 seeded with salt); rest 0
    8       8     salt        u64  random per segment, seeds every frame CRC
    16      8     base_seq    u64  seq of the first record in this segment
    24      4     reserved    u32  0
    28      4     header_crc  u32  zlib CRC-32 (unseeded) of bytes 0..27

Frames (frame.py) follow the header back to back until the end of the file.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple

from schema.checksum import salt_seed
from schema.errors import BadSegmentHeader, NotARunDir, UnsupportedVersion

MAGIC = b"RWAL"
FORMAT_VERSION = 1
SEGMENT_HEADER = struct.Struct("<4sHHQQI")
SEGMENT_HEADER_SIZE = SEGMENT_HEADER.size + 4  # 32
CODEC_ZSTD = 0x0001
CHECKSUM_CRC32_SALTED = 0x0000
SEGMENT_SUFFIX = ".seg"
_NAME = re.compile(r"^(\d{20})\.seg$")
_U32 = struct.Struct("<I")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class SegmentHeader(NamedTuple):
    version: int
    flags: int
    salt: int
    base_seq: int

    @property
    def seed(self) -> int:
        """The 32-bit CRC seed every frame in this segment uses."""
        return salt_seed(self.salt)

    def encode(self) -> bytes:
        head = SEGMENT_HEADER.pack(MAGIC, self.version, self.flags, self.salt, self.base_seq, 0)
        return head + _U32.pack(zlib.crc32(head) & 0xFFFFFFFF)

    @classmethod
    def new(cls, base_seq: int, *, salt: int | None = None) -> SegmentHeader:
        return cls(
            FORMAT_VERSION,
            CODEC_ZSTD | CHECKSUM_CRC32_SALTED,
            int.from_bytes(os.urandom(8), "little") if salt is None else salt,
            base_seq,
        )

    @classmethod
    def decode(cls, data: bytes, path: str | None = None) -> SegmentHeader:
        if len(data) < SEGMENT_HEADER_SIZE:
            raise BadSegmentHeader(
                f"segment is {len(data)} bytes, shorter than its {SEGMENT_HEADER_SIZE}-byte header",
                path=path,
            )
        magic, version, flags, salt, base_seq, _reserved = SEGMENT_HEADER.unpack_from(data)
        if magic != MAGIC:
            raise BadSegmentHeader(f"bad magic {magic!r}, expected {MAGIC!r}", path=path)
        (stored,) = _U32.unpack_from(data, SEGMENT_HEADER.size)
        if zlib.crc32(data[: SEGMENT_HEADER.size]) & 0xFFFFFFFF != stored:
            raise BadSegmentHeader("segment header checksum mismatch", path=path)
        if version > FORMAT_VERSION:
            raise UnsupportedVersion(
                f"format version {version}, this runwal reads up to {FORMAT_VERSION}", path=path
            )
        return cls(version, flags, salt, base_seq)


def segment_name(base_seq: int) -> str:
    return f"{base_seq:020d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    """base_seq encoded in a segment file name, or None for other files."""
    m = _NAME.match(name)
    return int(m.group(1)) if m else None


def list_segments(log_dir: str | os.PathLike[str]) -> list[Path]:
    """Entries of a log directory named like segments, in seq order (others ignored).

    No log/ yet is an empty log. A log/ that exists but can never be listed (a
    file, a symlink loop) raises NotARunDir; other errors (permission) propagate.
    """
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        raise NotARunDir(f"log/ cannot be listed: {exc.strerror}", path=str(log_dir),
                         hint="a run's log/ must be a directory of segment files") from exc
    found = sorted((seq, n) for n in names if (seq := parse_segment_name(n)) is not None)
    return [Path(log_dir) / n for _, n in found]


def open_segment(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a segment for reading; it must be a regular file, not reached by a symlink.

    Anything else named like a segment (a directory, a symlink, a FIFO, which
    a plain open() would block on) raises BadSegmentHeader: the segment is
    unreadable and its seqs are lost, as for a damaged header. A missing file
    or a permission error propagates as OSError (it may go away).
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise BadSegmentHeader("a symbolic link, not a segment file", path=str(path)) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadSegmentHeader("not a regular file", path=str(path))
    if _O_NOFOLLOW == 0 and os.path.islink(path):  # no O_NOFOLLOW (Windows)
        os.close(fd)
        raise BadSegmentHeader("a symbolic link, not a segment file", path=str(path))
    return os.fdopen(fd, "rb")


def read_header(path: str | os.PathLike[str]) -> SegmentHeader:
    with open_segment(path) as fh:
        return SegmentHeader.decode(fh.read(SEGMENT_HEADER_SIZE), path=str(path))
