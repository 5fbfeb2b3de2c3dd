"""Well-formed records, the msgpack walk behind them, and what a segment may be.

The vectors (tests/vectors/) pin the outcomes a second reader must reproduce;
this file pins the reference reader's own machinery: the structural walk
(`schema.msgwalk`) agrees with msgpack on where a value ends and how deep it
is, the slow record-by-record path agrees with the fast one, and log entries
that are no regular file (a directory, a symlink, a FIFO that a plain open()
would block on forever) are unreadable segments, not tracebacks or hangs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbuilder import build_run
from schema.errors import BadSegmentHeader, NotARunDir
from schema.events import SegmentDamaged
from schema.msgwalk import value_end
from schema.reader import iter_run_log
from schema.records import (
    MAX_DEPTH,
    RecordType,
    _unpack_one_by_one,
    body_problem,
    pack_record,
    unpack_records,
)
from schema.segment import list_segments, open_segment, segment_name

scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
           | st.floats(allow_nan=False) | st.text(max_size=40) | st.binary(max_size=40))
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | st.integers(-9, 2**40), kids,
                                      max_size=4),
                      max_leaves=30)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(values)
def test_the_walk_finds_where_a_value_ends_and_how_deep_it_is(value: Any) -> None:
    raw = msgpack.packb(value, use_bin_type=True)
    assert value_end(raw + b"\x00tail", 0) == (len(raw), depth(value))
    if len(raw) > 1:
        with pytest.raises(ValueError):
            value_end(raw[:-1], 0)


def test_the_walk_is_iterative_and_refuses_bytes_msgpack_never_uses() -> None:
    assert value_end(b"\x91" * 200_000 + b"\x01", 0) == (200_001, 200_000)
    with pytest.raises(ValueError, match="0xc1"):
        value_end(b"\x92\x01\xc1", 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(values, min_size=1, max_size=8))
def test_the_slow_path_reads_what_the_fast_path_reads(bodies: list[Any]) -> None:
    payload = b"".join(pack_record(RecordType.CONFIG, 1.5, {"v": b}) for b in bodies)
    fast = unpack_records(payload, len(bodies), 7)
    assert _unpack_one_by_one(payload, len(bodies), 7) == fast
    assert [r.seq for r in fast[0]] == list(range(7, 7 + len(bodies))) and not fast[1]


def test_a_malformed_record_costs_its_seq_in_both_paths() -> None:
    good = pack_record(RecordType.HISTORY, 1.0, {"step": 0, "data": {"x": 1.0}})
    deep = msgpack.packb([3, 1.0, {"d": _nest(MAX_DEPTH)}])  # 64 + record + body: too deep
    for bad, why in [(msgpack.packb([True, 1.0, {}]), "not an integer"),
                     (msgpack.packb([3, None, {}]), "not a number"),
                     (deep, "deeper than 64"),
                     (b"\x93\x03\xcb" + bytes(8) + b"\xa2\xff\xfe", "UTF-8"),  # -> slow path
                     (b"\x93\x03\xcb" + bytes(8) + b"\x81\x91\x01\x01", "map key")]:
        recs, malformed = unpack_records(good + bad + good, 3, 10)
        assert [r.seq for r in recs] == [10, 12], why
        assert [m.seq for m in malformed] == [11] and why in malformed[0].reason


def _nest(levels: int) -> Any:
    out: Any = 1
    for _ in range(levels):
        out = [out]
    return out


@pytest.mark.parametrize(("rtype", "body", "problem"), [
    (RecordType.HISTORY, {"step": 1, "data": {}}, None),
    (RecordType.HISTORY, [1], "history body is an array, not a map"),
    (RecordType.HISTORY, {"step": -1, "data": {}}, "history step -1 is not an integer >= 0"),
    (RecordType.HISTORY, {"step": True, "data": {}}, "history step True is not an integer >= 0"),
    (RecordType.HISTORY, {"step": 1}, "history record without a data map"),
    (RecordType.RUN, None, "run body is nil, not a map"),
    (RecordType.FILE, {"path": 42}, "file record without a path string"),
    (RecordType.CONSOLE, {"text": b"x"}, "console record without a text string"),
    (99, "anything", None),
])
def test_body_problem_names_what_a_consumer_skips(rtype: int, body: Any,
                                                  problem: str | None) -> None:
    assert body_problem(rtype, body) == problem


def test_entries_that_are_no_regular_file_are_unreadable_segments(tmp_path: Path) -> None:
    run = build_run(tmp_path / "run", [(RecordType.HISTORY, 1.0, {"step": i, "data": {"x": 1}})
                                       for i in range(4)])
    log = run / "log"
    (log / segment_name(100)).mkdir()
    os.symlink(log / segment_name(0), log / segment_name(200))
    os.mkfifo(log / segment_name(300))  # a plain open() for reading would block forever
    for name in (segment_name(100), segment_name(200), segment_name(300)):
        with pytest.raises(BadSegmentHeader):
            open_segment(log / name).close()
    events = list(iter_run_log(log))
    damaged = [e for e in events if isinstance(e, SegmentDamaged)]
    assert [(d.segment, d.first_lost, d.last_lost) for d in damaged] == [
        (segment_name(100), 4, 199), (segment_name(200), 200, 299),
        (segment_name(300), 300, None)]
    assert "symbolic link" in damaged[1].reason and "not a regular file" in damaged[0].reason


def test_a_log_that_cannot_be_listed_is_not_a_run_an_absent_one_is_empty(
        tmp_path: Path) -> None:
    assert list_segments(tmp_path / "missing") == []
    (tmp_path / "file").write_text("x")
    os.symlink("loop", tmp_path / "loop")
    for bad in ("file", "loop"):
        with pytest.raises(NotARunDir, match="cannot be listed"):
            list_segments(tmp_path / bad)
