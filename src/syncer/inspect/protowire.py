"""The protobuf wire format, as far as ``runwal export --tensorboard`` writes it.

Just enough to serialize TensorBoard's messages by hand (tensorboard.py: Event,
Summary; tbmedia.py: Image, Audio, HistogramProto, TensorProto), so export needs
no protobuf package. A field is its key, then its value::

    key       varint (field_no << 3) | wire_type
    wire 0    varint            int32/int64/enum; a negative is its 64-bit two's
                                complement, ten bytes
    wire 1    8 bytes LE        double
    wire 2    varint length N, then N bytes: string, bytes, a nested message,
                                packed repeated numbers
    wire 5    4 bytes LE        float

    varint    7 bits a byte, least significant group first, high bit = more follow

The ``*_field`` helpers that omit a zero do what proto3 serialization does for a
default value, so the bytes equal what protobuf writes.
"""

from __future__ import annotations

import math
import struct

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # int64: negatives are ten-byte two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field_no: int, wire_type: int) -> bytes:
    return varint((field_no << 3) | wire_type)


def len_field(field_no: int, payload: bytes) -> bytes:
    """A string, bytes or nested message field (written even when empty)."""
    return key(field_no, LEN) + varint(len(payload)) + payload


def int_field(field_no: int, value: int) -> bytes:
    """An int32/int64/enum field; zero is proto3's default and is not written."""
    return key(field_no, VARINT) + varint(value) if value else b""


def double_field(field_no: int, value: float) -> bytes:
    """A double field; zero is not written."""
    return key(field_no, FIXED64) + struct.pack("<d", value) if value else b""


def packed_doubles(field_no: int, values: list[float]) -> bytes:
    """A packed ``repeated double``; an empty one is not written."""
    return len_field(field_no, struct.pack(f"<{len(values)}d", *values)) if values else b""


def float32(value: float) -> bytes:
    """A float's 4 bytes; beyond float32 range it is ±inf, what a float32 cast gives."""
    try:
        return struct.pack("<f", value)
    except OverflowError:
        return struct.pack("<f", math.inf if value > 0 else -math.inf)
