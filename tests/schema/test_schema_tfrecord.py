"""schema.tfrecord, the TFRecord bytes both halves use: fixed bytes in, fixed bytes out.

The SDK's reader (tests/logwriter/tensorboard/test_tensorboard_events.py) and the syncer's
writer (tests/syncer/cli/test_cli_export.py, against tensorboardX) are checked with
real event files; these vectors pin the framing itself.
"""

from __future__ import annotations

import struct

from schema.tfrecord import (
    FOOTER,
    HEADER,
    MAX_RECORD,
    crc32c,
    data_length,
    data_ok,
    frame,
    masked_crc,
)

EMPTY = bytes.fromhex("0000000000000000" "29039807" "d8ea82a2")
BRAIN = bytes.fromhex("0500000000000000" "eab2043e" "627261696e" "92d279cb")


def test_crc32c_check_value_and_mask() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    assert masked_crc(b"") == 0xA282EAD8  # crc 0: the mask delta alone


def test_frame_vectors() -> None:
    assert frame(b"") == EMPTY
    assert frame(b"brain") == BRAIN
    assert len(BRAIN) == HEADER + 5 + FOOTER


def test_header_and_data_checks() -> None:
    buf = b"junk" + BRAIN
    assert data_length(buf, 4) == 5 and data_ok(buf, 4, 5)
    assert data_length(buf, 0) == -1  # no header starts there
    assert data_length(buf, 5) == -1
    assert data_length(BRAIN[:HEADER - 1], 0) == -1  # too short to be a header
    bad = bytearray(BRAIN)
    bad[HEADER] ^= 1  # a bit of the data: the header holds, the data does not
    assert data_length(bad, 0) == 5 and not data_ok(bytes(bad), 0, 5)
    huge = struct.pack("<Q", MAX_RECORD + 1)
    assert data_length(huge + struct.pack("<I", masked_crc(huge)), 0) == -1  # noise, not a record
