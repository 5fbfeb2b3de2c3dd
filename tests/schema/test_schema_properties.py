"""Properties of the format (hypothesis): records round-trip, damage stays local.

* Every record type and value kind survives pack -> frame -> reader unchanged,
  compressed or not, bit for bit (NaN, -0.0, 64-bit ints, unicode).
* Any single damage -- a flipped bit, a truncation, inserted or deleted bytes,
  anywhere in a segment -- loses at most the frames whose bytes it touched;
  every other frame is still returned, nothing is invented, and every lost seq
  is reported (Corrupt, Incomplete, a bad segment header). The one silent case
  is a cut exactly at a frame boundary, which is indistinguishable from a
  shorter log (the run's `exit` record is what says a log is complete).
* A frame whose CRCs are valid but whose payload is garbage (a writer bug or a
  forged file) is reported as Corrupt, never raises out of the reader.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corruption import KINDS, Damage, Span, forge_frame
from schema.checksum import salt_seed
from schema.frame import FLAG_ZSTD, TARGET_PAYLOAD, encode_frame, split_frames
from schema.reader import Corrupt, Frame, Incomplete, SegmentDamaged, iter_run_log, scan
from schema.records import MEDIA_KINDS, Record, RecordType, pack_record
from schema.segment import SEGMENT_HEADER_SIZE, SegmentHeader, segment_name

PROPS = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
U64 = (1 << 64) - 1


def same(a: Any, b: Any) -> bool:
    """Strict equality: types must match (1 != 1.0 != True), floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def same_record(a: Record, b: Record) -> bool:
    return a.seq == b.seq and a.type == b.type and same(a.ts, b.ts) and same(a.body, b.body)


# -- strategies ----------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 63), U64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
flat_data = st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=6)
small_int = st.integers(0, 1 << 40)
ts = st.floats(allow_nan=True, allow_infinity=True)

hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)

# Bodies shaped as the SDK writes each type (docs/FORMAT.md, "Record types").
BODIES: dict[int, st.SearchStrategy[Any]] = {
    RecordType.RUN: st.fixed_dictionaries(
        {"run_id": st.text(max_size=8), "host": st.text(max_size=10), "pid": small_int,
         "argv": st.lists(st.text(max_size=10), max_size=3)},
        optional={"git": st.fixed_dictionaries({"commit": st.none() | st.text(max_size=40),
                                                "dirty": st.none() | st.booleans()}),
                  "tags": st.lists(st.text(max_size=5), max_size=3)}),
    RecordType.CONFIG: flat_data,
    RecordType.HISTORY: st.fixed_dictionaries({"step": small_int, "data": flat_data}),
    RecordType.SUMMARY: flat_data,
    RecordType.FILE: st.fixed_dictionaries(
        {"path": st.text(min_size=1, max_size=20), "size": small_int,
         "sha256": st.text("0123456789abcdef", min_size=64, max_size=64),
         "policy": st.sampled_from(["now", "end", "live"])}),
    RecordType.STATS: st.dictionaries(st.text(min_size=1, max_size=20),
                                      st.floats(allow_nan=False), max_size=5),
    RecordType.CONSOLE: st.fixed_dictionaries(
        {"stream": st.sampled_from(["stdout", "stderr"]), "text": st.text(max_size=300)}),
    RecordType.METRIC_DEF: st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=10), "step_metric": st.none() | st.text(max_size=8),
         "summary": st.sampled_from([None, "min", "max", "mean", "last", "none"]),
         "hidden": st.booleans()}),
    RecordType.ALERT: st.fixed_dictionaries(
        {"title": st.text(max_size=10), "text": st.text(max_size=30),
         "level": st.sampled_from(["INFO", "WARN", "ERROR"])}),
    RecordType.EXIT: st.fixed_dictionaries(
        {"code": st.integers(-255, 255),
         "status": st.sampled_from(["finished", "failed", "killed", "preempted"]),
         "runtime": st.floats(0, 1e9)}),
    RecordType.RESUME: st.fixed_dictionaries(
        {"pid": small_int, "host": st.text(max_size=10), "step": small_int,
         "base_seq": small_int}),
    RecordType.MEDIA: st.fixed_dictionaries(
        {"key": st.text(min_size=1, max_size=10), "step": small_int,
         "kind": st.sampled_from(MEDIA_KINDS),
         "items": st.lists(st.fixed_dictionaries(
             {"file": st.text(min_size=1, max_size=20), "size": small_int,
              "sha256": hex64}, optional={"caption": st.text(max_size=10)}), max_size=3)}),
    RecordType.ARTIFACT: st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=10), "type": st.text(max_size=8),
         "version": small_int, "digest": hex64,
         "aliases": st.lists(st.text(max_size=6), max_size=3),
         "entries": st.lists(st.fixed_dictionaries(
             {"path": st.text(min_size=1, max_size=20), "size": small_int, "sha256": hex64,
              "file": st.text(min_size=1, max_size=20)}), max_size=3)}),
    RecordType.ARTIFACT_USE: st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=10), "type": st.text(max_size=8),
         "version": small_int, "digest": hex64,
         "source_run": st.none() | st.text(max_size=8), "asked": st.text(max_size=12)}),
}
assert set(BODIES) == set(RecordType), "a new record type needs a body strategy here"


@st.composite
def records(draw: st.DrawFn) -> tuple[int, float, Any]:
    """(type, ts, body): a known type with its body shape, or an unknown type with any body."""
    rtype = draw(st.sampled_from(sorted(BODIES)) | st.integers(12, 1 << 16))
    body = draw(BODIES[rtype]) if rtype in BODIES else draw(values)
    return rtype, draw(ts), body


def decode_all(data: bytes, seed: int, base_seq: int) -> list[Any]:
    return list(scan(data, seed, base_seq, "x", base=SEGMENT_HEADER_SIZE))


# -- round trip ----------------------------------------------------------------------


@PROPS
@given(recs=st.lists(records(), min_size=1, max_size=8), base_seq=st.integers(0, U64 - 100),
       salt=st.integers(0, U64), compress=st.booleans())
def test_records_round_trip_through_a_frame(recs: list[tuple[int, float, Any]], base_seq: int,
                                            salt: int, compress: bool) -> None:
    seed = salt_seed(salt)
    frame = encode_frame([pack_record(*r) for r in recs], base_seq, seed, compress=compress)
    (ev,) = decode_all(frame, seed, base_seq)
    assert isinstance(ev, Frame) and ev.size == len(frame) and ev.base_seq == base_seq
    expected = [Record(base_seq + i, t, float(when), body) for i, (t, when, body) in
                enumerate(recs)]
    assert all(same_record(a, b) for a, b in zip(ev.records, expected, strict=True))
    assert [r.kind for r in ev.records] == [
        RecordType(t).name.lower() if t in BODIES else None for t, _, _ in recs]


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 40_000), min_size=1, max_size=12), compress=st.booleans())
def test_split_frames_keeps_order_and_frames_small(sizes: list[int], compress: bool) -> None:
    seed = salt_seed(7)
    packed = [pack_record(RecordType.CONSOLE, 1.0, {"stream": "stdout", "text": "ab" * (n // 2)})
              for n in sizes]
    data = b"".join(split_frames(packed, 10, seed, compress=compress))
    events = decode_all(data, seed, 10)
    assert all(isinstance(e, Frame) for e in events)
    got = [r for e in events for r in e.records]
    assert [r.seq for r in got] == list(range(10, 10 + len(sizes)))
    assert [len(r.body["text"]) for r in got] == [n // 2 * 2 for n in sizes]
    for e in events:  # a frame over the target holds exactly one (big) record
        raw = sum(len(pack_record(r.type, r.ts, r.body)) for r in e.records)
        assert raw <= TARGET_PAYLOAD or len(e.records) == 1


# -- damage --------------------------------------------------------------------------


@st.composite
def segments(draw: st.DrawFn) -> tuple[bytes, list[Span], int]:
    """A clean segment of 1-5 frames of varied sizes, some compressed; its frame spans."""
    base = draw(st.integers(0, 1 << 40))
    header = SegmentHeader.new(base, salt=draw(st.integers(0, U64)))
    out = [header.encode()]
    spans: list[Span] = []
    offset, seq = SEGMENT_HEADER_SIZE, base
    for _ in range(draw(st.integers(1, 5))):
        recs = [pack_record(RecordType.HISTORY, 1e9 + seq + i,
                            {"step": seq + i, "data": {"s": "xy" * draw(st.integers(0, 200)),
                                                       "v": draw(st.floats())}})
                for i in range(draw(st.integers(1, 3)))]
        frame = encode_frame(recs, seq, header.seed, compress=draw(st.booleans()))
        out.append(frame)
        spans.append(Span(offset, len(frame), seq, len(recs)))
        offset += len(frame)
        seq += len(recs)
    return b"".join(out), spans, base


@st.composite
def damages(draw: st.DrawFn, size: int, spans: list[Span]) -> Damage:
    """One damage anywhere; positions on frame boundaries are drawn often on purpose
    (a cut or an insertion between frames, whole frames deleted)."""
    edges = sorted({SEGMENT_HEADER_SIZE, *(s.offset for s in spans), size})

    def position(lo: int, hi: int) -> int:
        inside = [e for e in edges if lo <= e <= hi]
        if inside and draw(st.booleans()):
            return draw(st.sampled_from(inside))
        return draw(st.integers(lo, hi))

    kind = draw(st.sampled_from(KINDS))
    if kind == "flip":
        return Damage(kind, position(0, size - 1), draw(st.integers(0, 7)))
    if kind == "truncate":
        return Damage(kind, position(0, size - 1))
    if kind == "insert":
        return Damage(kind, position(0, size), draw(st.binary(min_size=1, max_size=64)))
    start = position(0, size - 1)
    return Damage(kind, start, position(start + 1, min(size, start + 1200)))


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prop") / "log"


def read_damaged(log_dir: Path, data: bytes, base: int) -> list[Any]:
    """Events of ``iter_run_log`` for a log holding just this segment."""
    log_dir.mkdir(exist_ok=True)
    for old in log_dir.iterdir():
        old.unlink()
    (log_dir / segment_name(base)).write_bytes(data)
    return list(iter_run_log(log_dir))


@PROPS
@given(data=st.data())
def test_any_single_damage_loses_at_most_the_frames_it_touches(log_dir: Path,
                                                              data: st.DataObject) -> None:
    seg, spans, base = data.draw(segments())
    damage = data.draw(damages(len(seg), spans))
    events = read_damaged(log_dir, damage.apply(seg), base)
    original = {
        r.seq: r for e in decode_all(seg[SEGMENT_HEADER_SIZE:],
                                     SegmentHeader.decode(seg).seed, base)
        for r in e.records
    }
    got = [r for e in events if isinstance(e, Frame) for r in e.records]
    # Nothing invented, nothing reordered.
    assert all(same_record(r, original[r.seq]) for r in got)
    assert [r.seq for r in got] == sorted({r.seq for r in got})
    if damage.touches(0, SEGMENT_HEADER_SIZE) or (damage.kind, damage.pos) == ("insert", 0):
        # The header seeds every CRC: the whole segment is unreadable, and says so
        # (a file now shorter than a header reads as a torn segment creation).
        assert not got
        (ev,) = events
        short = len(damage.apply(seg)) < SEGMENT_HEADER_SIZE
        assert ev == Incomplete(segment_name(base), 0, len(damage.apply(seg))) if short else \
            isinstance(ev, SegmentDamaged)
        return
    touched = [s for s in spans if damage.touches(s.offset, s.end)]
    kept = {r.seq for r in got}
    for span in spans:
        if span not in touched:
            assert set(span.seqs) <= kept, f"untouched frame at {span.offset} lost"
    lost = sorted(set(original) - kept)
    assert set(lost) <= {s for span in touched for s in span.seqs}
    # Cutting (or deleting) whole frames off the end leaves a shorter, valid log:
    # the one damage nobody can see. Any other is noticed...
    at_edge = any(s.offset == damage.pos for s in spans)
    silent_cut = at_edge and (damage.kind == "truncate"
                              or (damage.kind == "delete" and damage.arg == len(seg)))
    assert silent_cut or any(not isinstance(e, Frame) for e in events)
    # ...and every lost seq is named by a Corrupt range or lies past the last frame
    # read before a torn or corrupt tail.
    tail = any(isinstance(e, Incomplete) or (isinstance(e, Corrupt) and e.last_lost is None)
               for e in events)
    for seq in lost:
        covered = any(isinstance(e, Corrupt) and e.first_lost is not None
                      and e.last_lost is not None and e.first_lost <= seq <= e.last_lost
                      for e in events)
        in_tail = tail and (not got or seq > got[-1].seq)
        assert covered or in_tail or silent_cut, f"seq {seq} lost silently: {events}"
    if damage.kind == "flip":
        # A flipped bit costs exactly its frame, reported at the frame's offset.
        (span,) = touched
        (bad,) = [e for e in events if not isinstance(e, Frame)]
        assert isinstance(bad, Corrupt) and (bad.offset, bad.skipped) == (span.offset, span.size)
        last = None if span is spans[-1] else span.seqs[-1]
        assert (bad.first_lost, bad.last_lost) == (span.base_seq, last)


# -- forged frames -------------------------------------------------------------------


@PROPS
@given(payload=st.binary(max_size=200), flags=st.sampled_from([0, FLAG_ZSTD]),
       count=st.integers(1, 0xFFFF), salt=st.integers(0, U64))
def test_frame_with_valid_crcs_and_garbage_payload_is_corrupt_not_a_crash(
        payload: bytes, flags: int, count: int, salt: int) -> None:
    seed = salt_seed(salt)
    forged = forge_frame(payload, seed, count=count, flags=flags)
    good = encode_frame([pack_record(RecordType.CONFIG, 1.0, {"a": 1})], 1 << 17, seed)
    events = decode_all(forged + good, seed, 0)
    assert isinstance(events[-1], Frame) and events[-1].base_seq == 1 << 17
    assert all(isinstance(e, Corrupt | Frame) for e in events[:-1])
