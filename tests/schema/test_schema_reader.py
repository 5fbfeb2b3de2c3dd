"""The reader's edge cases, each pinned by a hand-made segment.

Regressions found by the damage property (tests/schema/test_schema_properties.py):
bytes deleted from a large frame used to read as a torn tail (exit 0 in
`verify`) and cost every frame after it; a whole frame deleted on frame
boundaries left a silent seq gap; a frame with valid CRCs but a bad zstd
stream or an unhashable map key raised out of the reader. And the limits: a
crafted length or a decompression bomb never makes the reader allocate more
than about one MAX_FRAME.

Across segments (`iter_run_log`): an unreadable segment header was counted
twice, as the lost segment and again as a gap before the next segment; the
first segment's loss had no first seq at all (so `show` counted 0 records
lost where `verify` counted them from the file name).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from corruption import Span, delete_bytes, forge_frame, frame_spans, torn_append, zstd_rle
from runbuilder import build_run
from schema.checksum import salt_seed
from schema.errors import BadSegmentHeader
from schema.events import records_lost, seqs_lost
from schema.frame import FLAG_ZSTD, MAX_FRAME, encode_frame
from schema.reader import (
    Corrupt,
    Frame,
    Incomplete,
    SegmentDamaged,
    SegmentReader,
    iter_run_log,
    lost_segment,
    scan,
    segment_gap,
)
from schema.records import RecordType, pack_record
from schema.segment import SEGMENT_HEADER_SIZE, SegmentHeader, segment_name

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
        assert reader.poll()[-1] == Incomplete(path.name, len(seg), len(last) - 1, 2, 2)
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
    # Payload-level failures: the record boundaries are lost, the frame is corrupt.
    # (A record-level one, e.g. a map keyed by an array, costs only its own seq:
    # tests/schema/test_schema_records.py.)
    good = encode_frame([history(1)], 1, SEED)
    for payload, flags in [(b"\x00not zstd", FLAG_ZSTD), (b"\x91\xc1", 0),
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


# -- across segments: every lost seq is reported once -------------------------------


def run_log(tmp_path: Path, starts: list[int], n: int = 16) -> Path:
    """A run of ``n`` records split into segments at ``starts``; its log directory."""
    recs = [(RecordType.HISTORY, 1e9 + i, {"step": i, "data": {"x": 1.0}}) for i in range(n)]
    return build_run(tmp_path, recs, segment_starts=starts, records_per_frame=2) / "log"


def spoil_header(log: Path, base_seq: int) -> None:
    path = log / segment_name(base_seq)
    path.write_bytes(b"XXXX" + path.read_bytes()[4:])


def damage_of(log: Path) -> list[tuple[str, str, int | None, int | None]]:
    return [(type(e).__name__, e.segment, e.first_lost, e.last_lost)
            for e in iter_run_log(log) if isinstance(e, (Corrupt, SegmentDamaged))]


def test_an_unreadable_middle_segment_is_lost_once_not_again_as_a_gap(tmp_path: Path) -> None:
    # Was: the segment (seqs 4..9) and then a "seq gap between segments" of the
    # same seqs before the next one, so verify counted every record twice.
    log = run_log(tmp_path, [4, 10])
    spoil_header(log, 4)
    assert damage_of(log) == [("SegmentDamaged", segment_name(4), 4, 9)]
    assert records_lost(e for e in iter_run_log(log) if isinstance(e, SegmentDamaged)) == 6
    assert frames(list(iter_run_log(log))) == [0, 2, 10, 12, 14]


def test_an_unreadable_first_segment_names_its_seqs_from_its_file_name(
        tmp_path: Path) -> None:
    # Was: first_lost None (no seq due before the first segment): show counted 0.
    log = run_log(tmp_path, [8])
    spoil_header(log, 0)
    (lost,) = [e for e in iter_run_log(log) if isinstance(e, SegmentDamaged)]
    assert (lost.first_lost, lost.last_lost, lost.seqs_lost) == (0, 7, 8)
    assert damage_of(log) == [("SegmentDamaged", segment_name(0), 0, 7)]


def test_unreadable_segments_in_a_row_split_the_loss_at_their_names(tmp_path: Path) -> None:
    log = run_log(tmp_path, [4, 8, 12])
    spoil_header(log, 4)
    spoil_header(log, 8)
    assert damage_of(log) == [("SegmentDamaged", segment_name(4), 4, 7),
                              ("SegmentDamaged", segment_name(8), 8, 11)]


def test_an_unreadable_last_segment_lost_an_unknown_number(tmp_path: Path) -> None:
    log = run_log(tmp_path, [4])
    spoil_header(log, 4)
    (lost,) = [e for e in iter_run_log(log) if isinstance(e, SegmentDamaged)]
    assert (lost.first_lost, lost.last_lost, lost.seqs_lost) == (4, None, None)
    assert lost.describe().endswith("whole segment, lost seqs from 4 on")


def test_a_missing_segment_is_one_gap_at_the_next_segment(tmp_path: Path) -> None:
    log = run_log(tmp_path, [4, 10])
    (log / segment_name(4)).unlink()
    assert damage_of(log) == [("Corrupt", segment_name(10), 4, 9)]
    (gap,) = [e for e in iter_run_log(log) if isinstance(e, Corrupt)]
    assert (gap.offset, gap.skipped, gap.seqs_lost) == (SEGMENT_HEADER_SIZE, 0, 6)


def test_lost_segment_and_segment_gap_for_a_caller_walking_segments_itself(
        tmp_path: Path) -> None:
    log = run_log(tmp_path, [4, 10])
    spoil_header(log, 4)
    segs = sorted(log.iterdir())
    with pytest.raises(BadSegmentHeader) as exc:
        SegmentReader(segs[1]).poll()
    lost = lost_segment(segs[1], exc.value, 4, segs[2:])
    assert (lost.first_lost, lost.last_lost) == (4, 9)
    assert segment_gap(segs[2].name, lost.last_lost + 1, 10) is None  # nothing left to report
    assert segment_gap(segs[2].name, 4, 10) == Corrupt(segs[2].name, SEGMENT_HEADER_SIZE, 0, 4,
                                                       9, "seq gap between segments")
    assert segment_gap(segs[0].name, None, 0) is None


def test_describe_counts_what_seqs_lost_counts() -> None:
    assert seqs_lost(3, 2) == 0 and seqs_lost(3, 3) == 1 and seqs_lost(3, None) is None
    one = Corrupt("s.seg", 50, 10, 7, 7, "payload checksum mismatch")
    assert one.describe() == ("s.seg offset 50: payload checksum mismatch; skipped 10 bytes, "
                              "lost seqs 7..7 (1 record)")
    assert "lost no records" in Corrupt("s.seg", 50, 3, 8, 7, "x").describe()
    assert records_lost([one, Corrupt("s.seg", 90, 9, 8, None, "x")]) == 1
