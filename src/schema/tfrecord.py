"""TFRecord framing: the bytes of a TensorBoard event file, made and checked once.

TensorBoard's event files are TFRecords back to back, nothing before the first::

    offset  size  field
    0       8     length        u64 little-endian, N = bytes of data
    8       4     length_crc    u32 little-endian, masked CRC-32C of the 8 length bytes
    12      N     data          one serialized ``tensorboard.Event`` protobuf
    12+N    4     data_crc      u32 little-endian, masked CRC-32C of the N data bytes

    crc32c         CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), init and
                   final xor 0xFFFFFFFF: crc32c(b"123456789") = 0xE3069283
    masked_crc(x) = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) mod 2**32, crc = crc32c(x)

Both halves use it: the SDK reads event files (logwriter/tensorboard/tfrecord.py:
offsets, torn tails, resync after damage), the syncer writes them (``runwal export
--tensorboard``, syncer/inspect/tensorboard.py). The format is TensorBoard's, not
runwal's WAL (frame.py); it lives here because schema is what both halves may import.

Standard library only; the ``crc32c`` package (native, what tensorboardX uses too) is
used when it is installed, else a table in Python (~8 us for a 50-byte record). Not
tensorboardX's own function: importing any of tensorboardX imports torch when torch is
installed (~1 s).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

HEADER = 12  # length + length_crc
FOOTER = 4  # data_crc
MAX_RECORD = 256 << 20  # a longer length is noise, not a record
_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _load_crc32c() -> Callable[[bytes], int]:
    try:
        # where the CPU has no CRC instruction, the package's own software path is fine
        os.environ.setdefault("CRC32C_SW_MODE", "auto")
        from crc32c import crc32c as native

        return native
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


crc32c: Callable[[bytes], int] = _load_crc32c()


def masked_crc(data: bytes) -> int:
    """The CRC TFRecord stores: masked, because a CRC over bytes that embed CRCs is weak."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record's bytes: length, length_crc, data, data_crc."""
    head = _U64.pack(len(data))
    return b"".join((head, _U32.pack(masked_crc(head)), data, _U32.pack(masked_crc(data))))


def data_length(buf: bytes | memoryview, pos: int) -> int:
    """N of the record whose header starts at ``pos``, if that header validates
    (12 bytes there, length_crc right, N at most `MAX_RECORD`), else -1."""
    if len(buf) - pos < HEADER:
        return -1
    head = bytes(buf[pos:pos + 8])
    if _U32.unpack_from(buf, pos + 8)[0] != masked_crc(head):
        return -1
    n: int = _U64.unpack(head)[0]
    return n if n <= MAX_RECORD else -1


def data_ok(buf: bytes, pos: int, n: int) -> bool:
    """Whether the N data bytes of the record at ``pos`` match its data_crc (the caller
    checked that all ``HEADER + n + FOOTER`` bytes are there)."""
    stop = pos + HEADER + n
    return bool(_U32.unpack_from(buf, stop)[0] == masked_crc(buf[pos + HEADER:stop]))
