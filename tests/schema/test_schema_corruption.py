"""Golden corruption fixtures: each kind of damage gives the documented `runwal verify`.

Documented verdicts (docs/FORMAT.md, docs/CLI.md): exit 0 for a clean log or
one whose only flaw is a torn tail; exit 1 for damage, each region named by
segment, offset and the seqs lost; and a damage costs at most the frames whose
bytes it touched.

Two sources of fixtures: the committed conformance vectors (tests/vectors/,
made by scripts/make_vectors.py), each segment or log vector dropped into a
run directory; and runs
built with tests/runbuilder.py and damaged with tests/corruption.py, in the
middle segment of three. test_cli_dump_verify.py already covers a payload bit
flip, bytes inserted into a frame, a torn tail of the last segment, a missing
segment and a bad magic; this file covers the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from corruption import Damage, Span, frame_spans, torn_append
from runbuilder import append_segment, build_run, segment_path, typical_records
from schema.frame import encode_frame
from schema.records import RecordType, pack_record
from schema.segment import read_header, segment_name
from syncer.cli import main

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
INDEX = json.loads((VECTORS / "index.json").read_text())["vectors"]
LOGS = json.loads((VECTORS / "index.json").read_text())["logs"]
EXIT = {"clean": 0, "torn": 0, "damaged": 1}


def verify(run: Path) -> tuple[int, dict[str, Any], str]:
    """Exit code, the --json report and the text report of `runwal verify RUN`."""
    reports = []
    for extra in (["--json"], []):
        res = CliRunner().invoke(main, ["verify", str(run), *extra])
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
        reports.append((res.exit_code, res.stdout))
    (code, out), (code_text, text) = reports
    assert code == code_text
    return code, json.loads(out), text


# -- the conformance vectors as run directories ---------------------------------------


@pytest.mark.parametrize("vector", INDEX, ids=[v["name"] for v in INDEX])
def test_verify_gives_each_vectors_verdict(tmp_path: Path, vector: dict[str, Any]) -> None:
    want = json.loads((VECTORS / vector["expected"]).read_text())
    header = want["header"] if want["header"] and "error" not in want["header"] else None
    name = segment_name(header["base_seq"] if header else 0)
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / name).write_bytes((VECTORS / vector["file"]).read_bytes())
    code, report, text = verify(tmp_path)
    assert (code, report["status"]) == (EXIT[want["verify"]], want["verify"])
    corrupt = [e for e in want["events"] if e["event"] == "corrupt"]
    if want["header"] and "error" in want["header"]:
        (dmg,) = report["damage"]
        assert (dmg["kind"], dmg["segment"], dmg["offset"]) == ("segment", name, 0)
        assert dmg["reason"].startswith("unreadable segment: ")
    else:
        assert [(d["segment"], d["offset"], d["skipped"], d["first_lost"], d["last_lost"])
                for d in report["damage"]] == [
            (name, e["offset"], e["skipped"], e["first_lost"], e["last_lost"]) for e in corrupt]
    torn = [e for e in want["events"] if e["event"] == "incomplete"]
    assert [(t["offset"], t["bytes"]) for t in report["torn"]] == [
        (e["offset"], e["available"]) for e in torn]
    frames = [e for e in want["events"] if e["event"] == "frame"]
    assert report["records"] == sum(len(e["records"]) for e in frames)
    # The text names every damaged region by segment and offset, one line each.
    lines = [ln for ln in text.splitlines() if ln.startswith("damage: ")]
    assert len(lines) == len(report["damage"])
    for line, d in zip(lines, report["damage"], strict=True):
        assert line.startswith(f"damage: {name} offset {d['offset']}: ")


@pytest.mark.parametrize("log", LOGS, ids=[v["name"] for v in LOGS])
def test_verify_gives_each_log_vectors_verdict_and_count(tmp_path: Path,
                                                         log: dict[str, Any]) -> None:
    want = json.loads((VECTORS / log["expected"]).read_text())
    (tmp_path / "log").mkdir()
    for name, file in log["segments"]:
        (tmp_path / "log" / name).write_bytes((VECTORS / file).read_bytes())
    code, report, text = verify(tmp_path)
    assert (code, report["status"]) == (EXIT[want["verify"]], want["verify"])
    lost = [e for e in want["events"] if e["event"] in ("corrupt", "segment_damaged")]
    assert [(d["segment"], d["first_lost"], d["last_lost"]) for d in report["damage"]] == [
        (e["segment"], e["first_lost"], e["last_lost"]) for e in lost]
    assert report["lost_records"] == want["lost_records"]
    if lost:
        n = want["lost_records"]
        assert f"{n} record{'' if n == 1 else 's'} known lost" in text.splitlines()[-1]


# -- damage applied to a run -----------------------------------------------------------

RECORDS = typical_records(20)  # 37 records
STARTS = [12, 25]  # three segments: seqs 0..11, 12..24, 25..36


def three_segment_run(tmp_path: Path) -> tuple[Path, Path, list[Span]]:
    """A run of 3 segments, 3 records per frame; the middle segment and its frames."""
    run = build_run(tmp_path, RECORDS, segment_starts=STARTS, records_per_frame=3)
    seg = segment_path(run, 1)
    return run, seg, frame_spans(seg.read_bytes())


def lost_seqs(report: dict[str, Any]) -> set[int]:
    out: set[int] = set()
    for d in report["damage"]:
        if d["first_lost"] is not None and d["last_lost"] is not None:
            out |= set(range(d["first_lost"], d["last_lost"] + 1))
    return out


def damage_in_frame(kind: str, span: Span) -> Damage:
    """One damage of ``kind`` inside the frame ``span`` (header or payload)."""
    return {
        "flip_length": Damage("flip", span.offset + 2, 1),  # header: length field
        "flip_base_seq": Damage("flip", span.offset + 7, 0),  # header: base_seq
        "flip_payload_crc": Damage("flip", span.end - 1, 7),
        "insert_in_header": Damage("insert", span.offset + 9, b"\x00" * 7),
        "delete_in_payload": Damage("delete", span.offset + 25, span.offset + 31),
        "delete_header": Damage("delete", span.offset, span.offset + 19),
        "delete_frame": Damage("delete", span.offset, span.end),
    }[kind]


@pytest.mark.parametrize("kind", ["flip_length", "flip_base_seq", "flip_payload_crc",
                                  "insert_in_header", "delete_in_payload", "delete_header",
                                  "delete_frame"])
def test_damage_inside_a_frame_costs_that_frame_only(tmp_path: Path, kind: str) -> None:
    run, seg, spans = three_segment_run(tmp_path)
    hit = spans[2]
    damage_in_frame(kind, hit).apply_to_file(seg)
    code, report, text = verify(run)
    assert code == 1 and report["status"] == "damaged"
    (dmg,) = report["damage"]
    assert (dmg["kind"], dmg["segment"], dmg["offset"]) == ("corrupt", seg.name, hit.offset)
    assert (dmg["first_lost"], dmg["last_lost"], dmg["seqs_lost"]) == (
        hit.base_seq, hit.seqs[-1], hit.count)
    assert lost_seqs(report) == set(hit.seqs)
    assert report["records"] == len(RECORDS) - hit.count
    assert (report["first_seq"], report["last_seq"]) == (0, len(RECORDS) - 1)
    line = f"seqs {hit.base_seq}..{hit.seqs[-1]} ({hit.count} records)"
    assert f"damage: {seg.name} offset {hit.offset}: " in text and line in text


def test_deletion_that_makes_a_frame_run_past_the_end_is_damage_not_a_torn_tail(
        tmp_path: Path) -> None:
    recs = [(RecordType.CONSOLE, 1.0, {"stream": "stdout", "text": "z" * 2000}),
            *[(RecordType.HISTORY, 2.0 + i, {"step": i, "data": {"x": 1.0}}) for i in range(4)]]
    run = build_run(tmp_path, recs, records_per_frame=1, compress=False)
    seg = segment_path(run)
    big, *rest = frame_spans(seg.read_bytes())
    Damage("delete", big.offset + 100, big.offset + 1100).apply_to_file(seg)
    code, report, _ = verify(run)
    assert code == 1 and report["torn"] == []
    assert lost_seqs(report) == {0} and report["records"] == len(rest)


def test_truncated_older_segment_names_the_seqs_it_lost(tmp_path: Path) -> None:
    # A torn tail is harmless at the end of the log, but in a segment that has a
    # successor the records it held are gone for good: the gap is damage.
    run, seg, spans = three_segment_run(tmp_path)
    Damage("truncate", spans[1].offset + 5).apply_to_file(seg)
    code, report, text = verify(run)
    assert code == 1
    assert report["torn"] == [{"segment": seg.name, "offset": spans[1].offset, "bytes": 5,
                               "first_seq": None, "last_seq": None}]  # no header to tell
    (gap,) = report["damage"]
    assert gap["reason"] == "seq gap between segments"
    assert (gap["segment"], gap["first_lost"], gap["last_lost"]) == (
        segment_path(run, 2).name, spans[1].base_seq, STARTS[1] - 1)
    assert f"torn tail at {seg.name} offset {spans[1].offset}" in text


def test_crash_then_resume_is_a_torn_tail_only(tmp_path: Path) -> None:
    # What the SDK does after a crash mid-write: the new segment starts at the
    # torn frame's base_seq, so nothing that was ever complete on disk is lost.
    run, seg, spans = three_segment_run(tmp_path)
    segment_path(run, 2).unlink()
    cut = spans[-1]
    Damage("truncate", cut.offset + cut.size // 2).apply_to_file(seg)
    append_segment(run, RECORDS[cut.base_seq:], base_seq=cut.base_seq, salt=0xC0FFEE,
                   records_per_frame=1)
    code, report, text = verify(run)
    assert (code, report["status"], report["damage"]) == (0, "torn", [])
    assert report["torn"] == [{"segment": seg.name, "offset": cut.offset,
                               "bytes": cut.size // 2, "first_seq": cut.base_seq,
                               "last_seq": cut.base_seq + cut.count - 1}]
    assert report["records"] == len(RECORDS)
    assert "(normal after a crash" in text


def test_a_torn_write_then_its_completion(tmp_path: Path) -> None:
    """Write ``record[:-1]``, verify, write the last byte, verify again."""
    run = build_run(tmp_path, typical_records(3), records_per_frame=2)
    seg = segment_path(run)
    header = read_header(seg)
    nxt = len(typical_records(3))
    frame = encode_frame([pack_record(RecordType.HISTORY, 9.0, {"step": 9, "data": {"x": 1}})],
                         nxt, header.seed)
    end = seg.stat().st_size
    with torn_append(seg, frame):
        code, report, _ = verify(run)
        assert (code, report["status"]) == (0, "torn")
        assert report["torn"] == [{"segment": seg.name, "offset": end, "bytes": len(frame) - 1,
                                   "first_seq": 14, "last_seq": 14}]
        assert report["last_seq"] == nxt - 1
    code, report, text = verify(run)
    assert (code, report["status"], report["last_seq"]) == (0, "clean", nxt)
    assert text.splitlines()[-1] == "clean"
