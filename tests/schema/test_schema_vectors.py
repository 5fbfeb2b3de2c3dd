"""The conformance vectors in tests/vectors/ (docs/FORMAT.md, "Conformance").

Three checks that together keep the format from drifting silently:

* the reader (src/schema) turns every committed ``.seg`` into exactly the
  events its ``.json`` lists: header, frames and records, damage, torn tails;
  and every log vector (several segments in one ``log/``) into the events
  `iter_run_log` must give, with each lost seq reported once;
* scripts/make_vectors.py, run again, writes byte-identical files, so the
  committed vectors are what the generator says they are;
* for the vectors marked ``canonical``, the writer's encoder (src/schema)
  produces the very same bytes from the listed records.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from schema.checksum import salt_seed
from schema.errors import BadSegmentHeader, UnsupportedVersion
from schema.events import SegmentDamaged, records_lost
from schema.frame import encode_frame
from schema.reader import Corrupt, Frame, Incomplete, SegmentReader, iter_run_log
from schema.records import pack_record
from schema.segment import SegmentHeader

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", ROOT / "scripts" /
                                                  "make_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load_generator()
INDEX = json.loads((VECTORS / "index.json").read_text())["vectors"]
NAMES = [v["name"] for v in INDEX]
LOGS = json.loads((VECTORS / "index.json").read_text())["logs"]
RUNS = json.loads((VECTORS / "index.json").read_text())["runs"]


def expected(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / f"{name}.json").read_text()))


def canon(obj: Any) -> str:
    """Comparable text: JSON keeps 1 and 1.0 apart, which == on Python values does not."""
    return json.dumps(obj, sort_keys=True, allow_nan=False)


def header_error(exc: BadSegmentHeader) -> str:
    if isinstance(exc, UnsupportedVersion):
        return "unsupported_version"
    return "bad_magic" if "magic" in str(exc) else "bad_crc"


def read_vector(name: str) -> tuple[Any, list[dict[str, Any]]]:
    """(header json, events json) as the reader sees the vector's segment."""
    path = VECTORS / f"{name}.seg"
    raw = path.read_bytes()
    reader = SegmentReader(path)
    try:
        events = reader.poll()
    except BadSegmentHeader as exc:
        return {"error": header_error(exc)}, []
    out: list[dict[str, Any]] = []
    for ev in events:
        if isinstance(ev, Frame):
            out.append({"event": "frame", "offset": ev.offset, "size": ev.size,
                        "flags": raw[ev.offset + 4], "base_seq": ev.base_seq,
                        "count": ev.count,
                        "records": [[r.seq, r.type, gen.to_json(r.ts), gen.to_json(r.body)]
                                    for r in ev.records]})
        elif isinstance(ev, Corrupt):
            out.append({"event": "corrupt", "offset": ev.offset, "skipped": ev.skipped,
                        "first_lost": ev.first_lost, "last_lost": ev.last_lost,
                        "last_known": ev.last_known})
        else:
            assert isinstance(ev, Incomplete)
            out.append({"event": "incomplete", "offset": ev.offset, "available": ev.available,
                        "first_seq": ev.first_seq, "last_seq": ev.last_seq})
    h = reader.header
    header = None if h is None else {"version": h.version, "flags": h.flags,
                                     "salt": f"0x{h.salt:016x}", "base_seq": h.base_seq}
    return header, out


def read_log(log_dir: Path) -> list[dict[str, Any]]:
    """The events `iter_run_log` gives for a log vector's directory, as its JSON spells them."""
    out: list[dict[str, Any]] = []
    for ev in iter_run_log(log_dir):
        if isinstance(ev, SegmentDamaged):
            out.append({"event": "segment_damaged", "segment": ev.segment,
                        "error": header_error(ev.error), "first_lost": ev.first_lost,
                        "last_lost": ev.last_lost})
            continue
        raw = (log_dir / ev.segment).read_bytes()
        if isinstance(ev, Frame):
            out.append({"event": "frame", "segment": ev.segment, "offset": ev.offset,
                        "size": ev.size, "flags": raw[ev.offset + 4], "base_seq": ev.base_seq,
                        "count": ev.count,
                        "records": [[r.seq, r.type, gen.to_json(r.ts), gen.to_json(r.body)]
                                    for r in ev.records]})
        elif isinstance(ev, Corrupt):
            out.append({"event": "corrupt", "segment": ev.segment, "offset": ev.offset,
                        "skipped": ev.skipped, "first_lost": ev.first_lost,
                        "last_lost": ev.last_lost, "last_known": ev.last_known})
        else:
            out.append({"event": "incomplete", "segment": ev.segment, "offset": ev.offset,
                        "available": ev.available, "first_seq": ev.first_seq,
                        "last_seq": ev.last_seq})
    return out


def log_dir_of(log: dict[str, Any], tmp_path: Path) -> Path:
    """A ``log/`` directory holding the log vector's segments under their names."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    for name, file in log["segments"]:
        (log_dir / name).write_bytes((VECTORS / file).read_bytes())
    return log_dir


@pytest.mark.parametrize("log", LOGS, ids=[v["name"] for v in LOGS])
def test_reader_sees_what_the_log_vector_says(log: dict[str, Any], tmp_path: Path) -> None:
    want = expected(log["name"])
    log_dir = log_dir_of(log, tmp_path)
    assert canon(read_log(log_dir)) == canon(want["events"])
    damage = [e for e in iter_run_log(log_dir) if isinstance(e, (Corrupt, SegmentDamaged))]
    assert records_lost(damage) == want["lost_records"]


def test_log_vectors_cover_the_ways_to_lose_a_segment() -> None:
    events = [e for v in LOGS for e in expected(v["name"])["events"]]
    assert {e["event"] for e in events} >= {"frame", "corrupt", "segment_damaged"}
    assert {v["verify"] for v in LOGS} == {"clean", "damaged"}
    assert {e["error"] for e in events if e["event"] == "segment_damaged"} == {
        "bad_magic", "bad_crc", "unsupported_version"}
    assert None in {e["last_lost"] for e in events if e["event"] == "segment_damaged"}


@pytest.mark.parametrize("name", NAMES)
def test_reader_sees_what_the_vector_says(name: str) -> None:
    want = expected(name)
    header, events = read_vector(name)
    assert canon(header) == canon(want["header"])
    assert len(events) == len(want["events"])
    for got, exp in zip(events, want["events"], strict=True):
        assert canon(got) == canon(exp)


def test_vectors_cover_every_outcome() -> None:
    kinds = {e["event"] for name in NAMES for e in expected(name)["events"]}
    assert kinds == {"frame", "corrupt", "incomplete"}
    assert {v["verify"] for v in INDEX} == {"clean", "torn", "damaged"}
    assert {expected(n)["header"].get("error") for n in NAMES if expected(n)["header"]} == {
        None, "bad_magic", "bad_crc", "unsupported_version"}
    types = {r[1] for n in NAMES for e in expected(n)["events"] for r in e.get("records", ())}
    assert set(range(1, 12)) < types  # every known type, and unknown ones


def test_generator_reproduces_the_committed_vectors_byte_for_byte() -> None:
    assert gen.differences(VECTORS) == [], (
        "tests/vectors/ differs from what scripts/make_vectors.py writes; if the format change "
        "is intended, run it, review the diff and document the change in docs/FORMAT.md")


def test_check_mode_reports_a_stale_directory(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--out", str(tmp_path)]) == 0
    assert gen.main(["--check", "--out", str(tmp_path)]) == 0
    seg = tmp_path / "empty.seg"
    seg.write_bytes(seg.read_bytes() + b"\x00")
    (tmp_path / "extra.json").write_text("{}")
    assert gen.main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "differs: empty.seg" in err and "not generated: extra.json" in err


@pytest.mark.parametrize("name", [v["name"] for v in INDEX if v["canonical"]])
def test_the_writer_encodes_canonical_vectors_to_the_same_bytes(name: str) -> None:
    want = expected(name)
    h = want["header"]
    header = SegmentHeader.new(h["base_seq"], salt=int(h["salt"], 16))
    frames = [
        encode_frame([pack_record(t, gen.from_json(ts), gen.from_json(body))
                      for _, t, ts, body in ev["records"]],
                     ev["base_seq"], salt_seed(header.salt), compress=False)
        for ev in want["events"]
    ]
    assert header.encode() + b"".join(frames) == (VECTORS / f"{name}.seg").read_bytes()


@pytest.mark.parametrize("value", [
    0, -1, (1 << 64) - 1, 1.0, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, "",
    "$float", None, True, b"\x00\xff", [1, [2.5, None]], {"a": {"b": []}}, {"$float": "nan"},
    {1: "x"}, {"$bytes": 1, "other": 2},
])
def test_json_encoding_of_values_round_trips(value: Any) -> None:
    text = canon(gen.to_json(value))
    assert canon(gen.to_json(gen.from_json(json.loads(text)))) == text


@pytest.mark.parametrize("vector", RUNS, ids=[v["name"] for v in RUNS])
def test_reader_sees_the_streams_a_run_vector_says(vector: dict[str, Any],
                                                   tmp_path: Path) -> None:
    """A run vector is a run directory (``files``: [path in the run, vector file], and
    ``dirs``): which of its directories are writer streams, and each stream's events."""
    from schema.layout import RunDir
    from syncer.inspect.verify import VerifyReport

    want = expected(vector["name"])
    run = tmp_path / "run"
    for rel in vector["dirs"]:
        (run / rel).mkdir(parents=True, exist_ok=True)
    for rel, file in vector["files"]:
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes((VECTORS / file).read_bytes())
    rd = RunDir(run)
    streams = [rd, *rd.streams()]
    assert [s.label for s in streams] == [st["label"] for st in want["streams"]]
    lost = 0
    for stream, st in zip(streams, want["streams"], strict=True):
        assert canon(read_log(stream.log_dir)) == canon(st["events"]), st["label"]
        lost += records_lost([e for e in iter_run_log(stream.log_dir)
                              if isinstance(e, (Corrupt, SegmentDamaged))])
    assert lost == want["lost_records"]
    assert VerifyReport.read(rd).status == want["verify"]
