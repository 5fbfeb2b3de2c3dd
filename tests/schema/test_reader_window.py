"""A bounded `SegmentReader.poll` (``max_bytes``, ``max_records``) reads a prefix.

The syncer reads a run with millions of records past its checkpoint window by
window. Polling again and again with small bounds must give exactly the events
and end state of one unbounded poll, on every conformance vector and on any
single damage (hypothesis): a window never decides what later bytes could
change (a torn tail, damage to the end, a frame running past the window).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corruption import KINDS, Damage
from schema.errors import BadSegmentHeader
from schema.frame import encode_frame
from schema.reader import Corrupt, Frame, Incomplete, SegmentReader
from schema.records import RecordType, pack_record
from schema.segment import SEGMENT_HEADER_SIZE, SegmentHeader

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
NAMES = [v["name"] for v in json.loads((VECTORS / "index.json").read_text())["vectors"]]
BOUNDS = [(1, None), (23, None), (64, 1), (300, 2), (4096, 1), (None, 1), (None, 3)]


def key(ev: Any) -> tuple[Any, ...]:
    """An event, comparable (a record body may hold NaN)."""
    if isinstance(ev, Frame):
        return ("frame", ev.segment, ev.offset, ev.size, ev.base_seq, ev.count,
                tuple(r.seq for r in ev.records))
    if isinstance(ev, Corrupt):
        return ("corrupt", ev.offset, ev.skipped, ev.first_lost, ev.last_lost, ev.reason)
    assert isinstance(ev, Incomplete)
    return ("incomplete", ev.offset, ev.available)


def state(reader: SegmentReader) -> tuple[Any, ...]:
    pending = None if reader.pending is None else key(reader.pending)
    return reader.offset, reader.next_seq, pending


def whole(path: Path) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    reader = SegmentReader(path)
    return [key(e) for e in reader.poll()], state(reader)


def windowed(path: Path, max_bytes: int | None, max_records: int | None
             ) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    reader = SegmentReader(path)
    out: list[tuple[Any, ...]] = []
    for _ in range(10_000):
        events = reader.poll(max_bytes=max_bytes, max_records=max_records)
        out += [key(e) for e in events]
        frames = sum(e.count for e in events if isinstance(e, Frame))
        assert max_records is None or frames < max_records + 0xFFFF  # one frame past, at most
        if not reader.more:
            return out, state(reader)
    raise AssertionError("bounded polls made no progress")


@pytest.mark.parametrize("name", NAMES)
def test_windows_of_every_vector_add_up_to_one_poll(name: str) -> None:
    path = VECTORS / f"{name}.seg"
    try:
        expected = whole(path)
    except BadSegmentHeader:
        return
    for max_bytes, max_records in BOUNDS:
        assert windowed(path, max_bytes, max_records) == expected, (max_bytes, max_records)


@st.composite
def damaged_segments(draw: st.DrawFn) -> bytes:
    """A segment of 1-8 frames of varied sizes, some compressed, with one damage."""
    header = SegmentHeader.new(draw(st.integers(0, 1 << 40)), salt=draw(st.integers(0, 2**64 - 1)))
    out, seq = [header.encode()], header.base_seq
    for _ in range(draw(st.integers(1, 8))):
        recs = [pack_record(RecordType.HISTORY, 1e9 + seq + i,
                            {"step": seq + i, "data": {"s": "xy" * draw(st.integers(0, 300))}})
                for i in range(draw(st.integers(1, 3)))]
        out.append(encode_frame(recs, seq, header.seed, compress=draw(st.booleans())))
        seq += len(recs)
    seg = b"".join(out)
    kind = draw(st.sampled_from(KINDS))
    pos = draw(st.integers(SEGMENT_HEADER_SIZE, len(seg) - 1))
    if kind == "flip":
        return Damage(kind, pos, draw(st.integers(0, 7))).apply(seg)
    if kind == "insert":
        return Damage(kind, pos, draw(st.binary(min_size=1, max_size=64))).apply(seg)
    if kind == "delete":
        return Damage(kind, pos, draw(st.integers(pos + 1, min(len(seg), pos + 1200)))).apply(seg)
    return Damage(kind, pos).apply(seg)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seg=damaged_segments(), max_bytes=st.integers(1, 2000),
       max_records=st.none() | st.integers(1, 4))
def test_windows_of_a_damaged_segment_add_up_to_one_poll(
        tmp_path_factory: pytest.TempPathFactory, seg: bytes, max_bytes: int,
        max_records: int | None) -> None:
    path = tmp_path_factory.mktemp("win") / "00000000000000000000.seg"
    path.write_bytes(seg)
    assert windowed(path, max_bytes, max_records) == whole(path)
