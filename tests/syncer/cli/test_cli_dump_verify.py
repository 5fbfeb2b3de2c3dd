"""`runwal dump` and `runwal verify`: record shapes, strict JSON, damage reporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbuilder import T0, build_run, frame_offsets, segment_path, typical_records
from schema.records import RecordType
from syncer.cli import main


def invoke(*args: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, res.stdout, res.stderr


def lines(out: str) -> list[dict]:
    return [json.loads(ln) for ln in out.splitlines()]


def damage_byte(run: Path, frame_index: int, delta: int = 25, seg: int = 0) -> None:
    """Flip one bit ``delta`` bytes into a frame (past the 19-byte header: the payload)."""
    name, offset, _ = [f for f in frame_offsets(run) if f[0] == segment_path(run, seg).name][
        frame_index
    ]
    path = run / "log" / name
    raw = bytearray(path.read_bytes())
    raw[offset + delta] ^= 0x10
    path.write_bytes(bytes(raw))


# -- dump ----------------------------------------------------------------------------


def test_dump_shapes_per_type(tmp_path: Path) -> None:
    recs = typical_records(2)
    code, out, err = invoke("dump", build_run(tmp_path, recs))
    assert code == 0 and err == ""
    rows = lines(out)
    assert [r["seq"] for r in rows] == list(range(len(recs)))
    assert all(list(r)[:3] == ["seq", "type", "ts"] for r in rows)
    by_type = {r["type"]: r for r in reversed(rows)}  # first of each type
    assert by_type["history"] == {"seq": 3, "type": "history", "ts": T0 + 1, "step": 0,
                                  "data": {"loss": 1.0, "acc": 0.0, "phase": "train", "ok": True}}
    assert by_type["config"]["data"] == {"lr": 0.1, "batch": 32}
    assert by_type["summary"]["data"] == {"best_acc": 0.9}
    assert by_type["stats"]["data"] == {"system/cpu_utilization_percentage": 50.0}
    assert by_type["exit"]["status"] == "finished" and by_type["exit"]["code"] == 0
    assert by_type["file"]["path"] == "model.pt"
    assert by_type["run"]["git"]["commit"] == "deadbeef"


def test_dump_nonfinite_values_are_strings_in_strict_json(tmp_path: Path) -> None:
    data = {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "ok": 1.5}
    run = build_run(tmp_path, [(RecordType.HISTORY, T0, {"step": 1, "data": data})])
    code, out, _ = invoke("dump", run)
    assert code == 0
    assert "NaN" not in out.replace('"NaN"', "")  # never a bare NaN literal
    (row,) = [json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c}"))]
    assert row["data"] == {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "ok": 1.5}


def test_dump_type_filter_and_from_seq(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(10))
    code, out, _ = invoke("dump", run, "--type", "history", "--from-seq", "8")
    assert code == 0
    rows = lines(out)
    assert {r["type"] for r in rows} == {"history"}
    assert [r["step"] for r in rows] == [5, 6, 7, 8, 9]  # seqs 8..12
    code, out, _ = invoke("dump", run, "--type", "exit,config", "--type", "3")
    assert {r["type"] for r in lines(out)} == {"exit", "config", "history"}


def test_dump_bad_type_is_usage_error(tmp_path: Path) -> None:
    code, out, err = invoke("dump", build_run(tmp_path, typical_records(1)), "--type", "histroy")
    assert code == 2 and out == ""
    assert err.startswith("runwal: error: unknown record type 'histroy'") and "history" in err


def test_dump_unknown_type_raw_body_and_one_note(tmp_path: Path) -> None:
    recs = [(RecordType.CONFIG, T0, {"a": 1}), (77, T0 + 1, {"new": [1, 2]}), (77, T0 + 2, 5)]
    code, out, err = invoke("dump", build_run(tmp_path, recs))
    assert code == 0
    rows = lines(out)
    assert rows[1] == {"seq": 1, "type": "unknown", "type_id": 77, "ts": T0 + 1,
                       "body": {"new": [1, 2]}}
    assert rows[2]["body"] == 5
    assert err.count("runwal: note:") == 1 and "type 77" in err
    code, out, _ = invoke("dump", build_run(tmp_path / "b", recs), "--type", "unknown")
    assert [r["seq"] for r in lines(out)] == [1, 2]


def test_dump_continues_past_damage_with_a_note(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(30), records_per_frame=4)
    damage_byte(run, 2)  # seqs 8..11
    code, out, err = invoke("dump", run)
    assert code == 0
    seqs = [r["seq"] for r in lines(out)]
    assert seqs == [s for s in range(len(typical_records(30))) if not 8 <= s <= 11]
    assert "runwal: note: damage:" in err and "seqs 8..11" in err


# -- verify --------------------------------------------------------------------------


def test_verify_clean(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(10), segment_starts=[7])
    code, out, _ = invoke("verify", run)
    assert code == 0
    assert out.splitlines()[-1] == "clean"
    assert "2 segments" in out and f"seqs 0..{len(typical_records(10)) - 1}" in out
    code, out, _ = invoke("verify", run, "--json")
    report = json.loads(out)
    assert report["status"] == "clean" and report["damage"] == []
    assert report["records"] == len(typical_records(10))


def test_verify_torn_tail_is_exit_0(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(10), records_per_frame=3)
    seg = segment_path(run)
    _, last_off, last_size = frame_offsets(run)[-1]
    seg.write_bytes(seg.read_bytes()[: last_off + last_size // 2])
    code, out, _ = invoke("verify", run)
    assert code == 0
    assert (f"torn tail at {seg.name} offset {last_off}: a frame of seqs 18..20 (3 records) "
            "cut short (normal after a crash") in out
    report = json.loads(invoke("verify", run, "--json")[1])
    assert report["status"] == "torn" and report["torn"][0]["offset"] == last_off
    assert (report["torn"][0]["first_seq"], report["torn"][0]["last_seq"]) == (18, 20)


def test_verify_bit_flip_names_segment_offset_and_seqs(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(30), records_per_frame=4)
    _, off, size = frame_offsets(run)[3]
    damage_byte(run, 3)  # seqs 12..15
    code, out, _ = invoke("verify", run)
    assert code == 1
    (dmg,) = [ln for ln in out.splitlines() if ln.startswith("damage:")]
    seg = segment_path(run).name
    assert dmg.startswith(f"damage: {seg} offset {off}:")
    assert f"skipped {size} bytes" in dmg and "seqs 12..15 (4 records)" in dmg
    assert out.splitlines()[-1].startswith("DAMAGED: 1 damaged region, 1 seq gap, 4 records")
    report = json.loads(invoke("verify", run, "--json")[1])
    assert report["status"] == "damaged" and report["lost_records"] == 4
    assert report["damage"][0] | {"reason": ""} == {
        "kind": "corrupt", "segment": seg, "offset": off, "skipped": size, "first_lost": 12,
        "last_lost": 15, "seqs_lost": 4, "last_known": None, "known_lost": 4, "reason": ""}


def test_verify_inserted_bytes_lose_one_frame(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(30), records_per_frame=4)
    _, off, _ = frame_offsets(run)[2]
    seg = segment_path(run)
    raw = seg.read_bytes()
    seg.write_bytes(raw[: off + 30] + b"\xde\xad\xbe\xef" * 3 + raw[off + 30 :])
    code, out, _ = invoke("verify", run, "--json")
    assert code == 1
    report = json.loads(out)
    assert [(d["first_lost"], d["last_lost"]) for d in report["damage"]] == [(8, 11)]
    assert report["records"] == len(typical_records(30)) - 4


def test_verify_missing_segment_is_a_gap(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(10), segment_starts=[5, 12])
    segment_path(run, 1).unlink()  # seqs 5..11
    code, out, _ = invoke("verify", run)
    assert code == 1
    assert "seq gap between segments" in out and "seqs 5..11 (7 records)" in out


def test_verify_bad_segment_header(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(10), segment_starts=[5])
    seg = segment_path(run, 0)
    raw = bytearray(seg.read_bytes())
    raw[0:4] = b"XXXX"
    seg.write_bytes(bytes(raw))
    code, out, _ = invoke("verify", run)
    assert code == 1
    (dmg,) = [ln for ln in out.splitlines() if ln.startswith("damage:")]
    assert dmg == (f"damage: {seg.name} offset 0: unreadable segment: bad magic "
                   "b'XXXX', expected b'RWAL'; whole segment, lost seqs 0..4 (5 records)")
    assert "seqs 5..20" in out


def spoil_header(run: Path, seg: int) -> Path:
    path = segment_path(run, seg)
    path.write_bytes(b"XXXX" + path.read_bytes()[4:])
    return path


def test_show_verify_and_dump_count_a_lost_first_segment_alike(tmp_path: Path) -> None:
    # Was: verify said 8 records lost, show said 0 (two computations of "lost").
    run = build_run(tmp_path, typical_records(10), segment_starts=[8])
    seg = spoil_header(run, 0)
    report = json.loads(invoke("verify", run, "--json")[1])
    shown = json.loads(invoke("show", run, "--json")[1])
    assert report["lost_records"] == 8 and report["damage"] == shown["damage"]
    assert shown["damage"][0]["seqs_lost"] == 8
    code, out, _ = invoke("show", run)
    assert code == 0 and "damage (1 region, 8 records lost)" in out
    _, out, err = invoke("dump", run)
    assert lines(out)[0]["seq"] == 8
    assert f"damage: {seg.name} offset 0: unreadable segment: bad magic" in err
    assert "lost seqs 0..7 (8 records)" in err


def test_verify_counts_an_unreadable_middle_segment_once(tmp_path: Path) -> None:
    # Was: the segment's seqs and then the same seqs as a gap before the next
    # segment (4006 records lost where 2003 were).
    run = build_run(tmp_path, typical_records(10), segment_starts=[5, 12])
    seg = spoil_header(run, 1)
    code, out, _ = invoke("verify", run)
    assert code == 1
    (dmg,) = [ln for ln in out.splitlines() if ln.startswith("damage:")]
    assert dmg.startswith(f"damage: {seg.name} offset 0:")
    assert dmg.endswith("whole segment, lost seqs 5..11 (7 records)")
    assert out.splitlines()[-1] == "DAMAGED: 1 damaged region, 1 seq gap, 7 records known lost"
    report = json.loads(invoke("verify", run, "--json")[1])
    assert (report["lost_records"], report["gaps"], len(report["damage"])) == (7, 1, 1)
    assert "7 records lost" in invoke("show", run)[1]


def test_verify_not_a_run_exit_2(tmp_path: Path) -> None:
    code, out, err = invoke("verify", tmp_path)
    assert code == 2 and out == ""
    assert err.startswith("runwal: error: ") and "not a runwal run directory" in err


def test_help_documents_exit_codes() -> None:
    for cmd in ("ls", "show", "dump", "verify", "export"):
        code, out, _ = invoke(cmd, "--help")
        assert code == 0 and "Exit status: 0" in out, cmd


def test_verify_checks_the_last_save_of_each_path(tmp_path: Path) -> None:
    """A saved file that is missing or changed is a note (not damage); an earlier save
    of the same path is not, since the later one replaced its bytes."""
    import hashlib

    old, new = b"old bytes", b"new bytes!"
    recs = [
        (RecordType.FILE, T0, {"path": "ckpt.pt", "size": len(old),
                               "sha256": hashlib.sha256(old).hexdigest(), "policy": "now"}),
        (RecordType.FILE, T0 + 1, {"path": "ckpt.pt", "size": len(new),
                                   "sha256": hashlib.sha256(new).hexdigest(), "policy": "now"}),
        (RecordType.FILE, T0 + 2, {"path": "gone.txt", "size": 3, "sha256": "ab" * 32,
                                   "policy": "end"}),
    ]
    run = build_run(tmp_path, recs)
    (run / "files").mkdir(exist_ok=True)
    (run / "files" / "ckpt.pt").write_bytes(new)
    code, out, _ = invoke("verify", run, "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "clean"
    assert report["file_problems"] == 1
    assert len(report["notes"]) == 1 and report["notes"][0].startswith("seq 2: saved file: ")
    (run / "files" / "ckpt.pt").write_bytes(b"torn")
    report = json.loads(invoke("verify", run, "--json")[1])
    assert report["file_problems"] == 2
    assert report["notes"][0].startswith("seq 1: saved file: files/ckpt.pt holds 4 bytes")


def test_verify_a_directory_of_runs_checks_every_run(tmp_path: Path) -> None:
    """It used to ask for one run; now each gets a line, exit 1 if any is damaged."""
    runs = tmp_path / "runs"
    for run_id in ("goodrun1", "badrun02"):
        build_run(runs, typical_records(30), run_id=run_id, records_per_frame=4)
    code, out, _ = invoke("verify", runs)
    assert code == 0
    assert out.splitlines() == [f"badrun02  clean  {len(typical_records(30))} records",
                                f"goodrun1  clean  {len(typical_records(30))} records",
                                "2 runs verified, 0 damaged"]
    damage_byte(runs / "badrun02", 3)
    code, out, _ = invoke("verify", runs)
    assert code == 1
    assert out.splitlines()[0] == f"badrun02  damaged  {len(typical_records(30)) - 4} records, " \
                                  "4 records lost"
    assert out.splitlines()[-1].startswith("2 runs verified, 1 damaged")
    code, out, _ = invoke("verify", runs, "--json")
    assert code == 1 and [r["status"] for r in json.loads(out)["runs"]] == ["damaged", "clean"]


def test_a_run_id_is_found_in_the_runs_directory(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build_run(tmp_path / "runs", typical_records(3), run_id="byid0001")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNWAL_DIR", raising=False)
    for command in ("show", "verify", "dump"):
        code, _, err = invoke(command, "byid0001")
        assert code == 0, (command, err)
    code, _, err = invoke("show", "nosuchid")
    assert code == 2 and "no such directory" in err
