"""Salted CRC-32 used by segment frames.

zlib's CRC-32 (the IEEE polynomial, as in gzip and PNG) started from a 32-bit
seed derived from the segment's random 64-bit salt. Seeding makes a stale frame
left by an older segment at the same offset fail validation in a new segment,
because the same bytes hash to a different value under a different salt.

    seed = (salt XOR (salt >> 32)) AND 0xFFFFFFFF
    crc  = zlib.crc32(data, seed)

``zlib.crc32(data, value)`` continues a running CRC from ``value``; any
CRC-32 implementation with the same "initial value" semantics reproduces it.
"""

from __future__ import annotations

import zlib


def salt_seed(salt: int) -> int:
    return (salt ^ (salt >> 32)) & 0xFFFFFFFF


def crc(data: bytes | memoryview, seed: int) -> int:
    return zlib.crc32(data, seed) & 0xFFFFFFFF
