"""The reader's edge cases, each pinned by a hand-made segment.

Regressions found by the damage property (tests/test_schema_properties.py):
bytes deleted from a large frame used to read as a torn tail (exit 0 in
`verify`) and cost every frame after it; a whole frame deleted on frame
boundaries left a silent seq gap; a frame with valid CRCs but a bad zstd
stream or an unhashable map key raised out of the reader. And the limits: a
crafted length or a decompression bomb never makes the reader allocate more
than about one MAX_FRAME.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import msgpack

from corruption import Span, delete_bytes, forge_frame, frame_spans, torn_append, zstd_rle
from schema.checksum import salt_seed
from schema.frame import FLAG_ZSTD, MAX_FRAME, encode_frame
from schema.reader import Corrupt, Frame, Incomplete, SegmentReader, scan
from schema.records import RecordType, pack_record
from schema.segment import SEGMENT_HEADER_SIZE, SegmentHeader

SALT = 0x5EED
SEED = salt_seed(SALT)


def history(seq: int, pad: int = 0) -> bytes:
    return pack_record(RecordType.HISTORY, 1e9 + seq, {"step": seq, "data": {"s": "x" * pad}})


def segment(sizes: list[int], base: int = 0) -> bytes:
    """One record per frame, record i padded with sizes[i] bytes, uncompressed."""
    frames = [encode_frame([history(base + i, n)], base + i, SEED, compress=False)
              for i, n in enumerate(sizes)]
    return SegmentHeader.new(base, salt=SALT).encode() + b"".join(frames)


def events_of(data: bytes, tmp_path: Path, **kw: Any) -> list[Any]:
    path = tmp_path / "00000000000000000000.seg"
    path.write_bytes(data)
    return SegmentReader(path, **kw).poll()


def frames(events: list[Any]) -> list[int]:
    return [e.base_seq for e in events if isinstance(e, Frame)]


def test_bytes_deleted_from_a_big_frame_cost_that_frame_not_the_tail(tmp_path: Path) -> None:
    seg = segment([400, 0, 0, 0])
    big = frame_spans(seg)[0]
    # The big frame now claims bytes past the end of the file, like a torn tail,
    # but complete frames follow its start: it is damage, and they are kept.
    events = events_of(delete_bytes(seg, big.offset + 30, big.offset + 330), tmp_path)
    assert frames(events) == [1, 2, 3]
    (bad,) = [e for e in events if isinstance(e, Corrupt)]
    assert (bad.offset, bad.first_lost, bad.last_lost) == (big.offset, 0, 0)


def test_a_real_torn_tail_is_still_incomplete_and_completes(tmp_path: Path) -> None:
    seg = segment([400, 0])
    path = tmp_path / "00000000000000000000.seg"
    path.write_bytes(seg)
    reader = SegmentReader(path)
    last = encode_frame([history(2, 500)], 2, SEED, compress=False)
    with torn_append(path, last, keep=len(last) - 1):
        assert reader.poll()[-1] == Incomplete(path.name, len(seg), len(last) - 1)
    (ev,) = reader.poll()
    assert isinstance(ev, Frame) and ev.base_seq == 2 and ev.offset == len(seg)


def test_whole_frame_deleted_is_a_reported_gap(tmp_path: Path) -> None:
    seg = segment([10, 10, 10, 10])
    gone: Span = frame_spans(seg)[1]
    events = events_of(delete_bytes(seg, gone.offset, gone.end), tmp_path)
    assert frames(events) == [0, 2, 3]
    (gap,) = [e for e in events if isinstance(e, Corrupt)]
    assert (gap.offset, gap.skipped, gap.first_lost, gap.last_lost) == (gone.offset, 0, 1, 1)
    # The first frame too: the header's base_seq says which seq is due.
    events = events_of(delete_bytes(seg, SEGMENT_HEADER_SIZE, gone.offset), tmp_path)
    assert frames(events) == [1, 2, 3]
    assert [(e.first_lost, e.last_lost) for e in events if isinstance(e, Corrupt)] == [(0, 0)]


def test_a_caller_starting_mid_segment_gives_a_lower_bound_not_a_gap(tmp_path: Path) -> None:
    # The syncer resumes at a checkpoint offset with expected = acked + 1,
    # which may lie before the next frame's base_seq (the records between
    # were unknown types it skipped). That is not damage.
    seg = segment([10, 10, 10])
    spans = frame_spans(seg)
    path = tmp_path / "00000000000000000000.seg"
    path.write_bytes(seg)
    reader = SegmentReader(path, expected_seq=1)
    reader.offset = spans[2].offset
    (ev,) = reader.poll()
    assert isinstance(ev, Frame) and ev.base_seq == 2


def test_valid_crcs_around_garbage_are_corrupt_not_a_crash() -> None:
    unhashable = msgpack.packb([RecordType.CONFIG, 1.0, {}])[:-1] + b"\x81\x91\x01\x02"
    good = encode_frame([history(1)], 1, SEED)
    for payload, flags in [(b"\x00not zstd", FLAG_ZSTD), (unhashable, 0),
                           (b"\x93\x01\xcb", 0), (history(0) + b"\x00", 0)]:
        events = list(scan(forge_frame(payload, SEED, flags=flags) + good, SEED, 0))
        assert [type(e) for e in events] == [Corrupt, Frame], payload
        assert events[0].reason.startswith("undecodable payload")


# -- limits ----------------------------------------------------------------------------


def peak_bytes(fn: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_crafted_length_allocates_nothing_near_it() -> None:
    good = encode_frame([history(1)], 1, SEED)
    for length in (MAX_FRAME + 1, 0xFFFFFFFF):  # over the limit: not a frame header at all
        forged = forge_frame(b"abc", SEED, length=length)
        events, peak = peak_bytes(lambda f=forged: list(scan(f + good, SEED, 0)))
        assert [type(e) for e in events] == [Corrupt, Frame]
        assert peak < 1 << 20
    # At the limit, claimed but absent: a torn tail, without reserving the claim.
    events, peak = peak_bytes(lambda: list(scan(forge_frame(b"abc", SEED, length=MAX_FRAME),
                                                SEED, 0)))
    assert [type(e) for e in events] == [Incomplete]
    assert peak < 1 << 20


def test_decompression_is_bounded_by_max_frame() -> None:
    bomb = zstd_rle(1 << 30)  # 1 GiB of zeros in 32 KiB
    assert len(bomb) < 40_000
    good = encode_frame([history(1)], 1, SEED)
    forged = forge_frame(bomb, SEED, flags=FLAG_ZSTD)
    events, peak = peak_bytes(lambda: list(scan(forged + good, SEED, 0)))
    assert [type(e) for e in events] == [Corrupt, Frame]
    assert "exceeds MAX_FRAME" in events[0].reason
    assert peak < 2 * MAX_FRAME + (1 << 20)
    # Exactly MAX_FRAME is allowed (and not msgpack records, so still corrupt).
    events = list(scan(forge_frame(zstd_rle(MAX_FRAME), SEED, flags=FLAG_ZSTD), SEED, 0))
    assert "exceeds" not in events[0].reason
