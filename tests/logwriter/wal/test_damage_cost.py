"""What one damaged byte costs a run the SDK wrote, and what ``verify`` says it cost.

A short run written in one flush used to be one frame: one flipped byte lost all
of it while the report said "0 records known lost". The writer now caps frames
(schema.frame.frame_records) and the reader reports what the bytes prove lost.
"""

from __future__ import annotations

import random
from pathlib import Path

import logwriter
from schema.events import Frame
from schema.frame import HEADER_SIZE, frame_records
from schema.layout import RunDir
from schema.reader import iter_run_log
from syncer.inspect.verify import VerifyReport

STEPS = 1000


def short_run(root: Path) -> tuple[Path, int]:
    """A finished 1,000-step run (fast enough to be written in a few flushes);
    returns its directory and how many records it holds."""
    run = logwriter.init(project="p", dir=str(root), mode="offline", id="short")
    for i in range(STEPS):
        logwriter.log({"loss": 1.0 / (i + 1)}, step=i)
    logwriter.finish()
    rd = Path(run.dir).parent
    total = sum(len(ev.records) for ev in iter_run_log(rd / "log") if isinstance(ev, Frame))
    return rd, total


def frames_of(rd: Path) -> list[Frame]:
    return [ev for ev in iter_run_log(rd / "log") if isinstance(ev, Frame)]


def test_frames_of_a_short_run_stay_within_the_cap(tmp_path: Path) -> None:
    rd, total = short_run(tmp_path)
    frames = frames_of(rd)
    assert total >= STEPS and len(frames) > 1
    for f in frames:
        assert f.count <= frame_records(f.base_seq), f
    # no frame holds more than an eighth of the run (16 at least): one byte's worth
    assert max(f.count for f in frames) <= max(16, total // 8)


def test_one_flipped_byte_costs_one_frame_and_the_report_counts_it(tmp_path: Path) -> None:
    rd, total = short_run(tmp_path)
    seg = next((rd / "log").glob("*.seg"))
    clean = seg.read_bytes()
    frames = frames_of(rd)
    rng = random.Random(7)
    for f in [*rng.sample(frames, 8), frames[-1]]:
        pos = f.offset + HEADER_SIZE + rng.randrange(f.size - HEADER_SIZE - 4)  # payload
        raw = bytearray(clean)
        raw[pos] ^= 0x40
        seg.write_bytes(bytes(raw))
        report = VerifyReport.read(RunDir(rd))
        assert report.status == "damaged"
        lost = total - report.records
        assert lost == f.count, (f, lost)
        # exactly what was lost, even when it is the last frame (damage to the end)
        assert report.lost_records == lost, [d.describe() for d in report.damage]
    seg.write_bytes(clean)


def test_junk_after_the_exit_record_loses_nothing(tmp_path: Path) -> None:
    rd, total = short_run(tmp_path)
    seg = next((rd / "log").glob("*.seg"))
    with seg.open("ab") as fh:
        fh.write(random.Random(3).randbytes(300).replace(b"\x00", b"\x07"))
    report = VerifyReport.read(RunDir(rd))
    assert report.records == total
    assert report.status == "damaged"  # damage is never called clean ...
    assert report.lost_records == 0 and report.gaps == 0  # ... but nothing was lost
    assert "after the run's exit record" in report.damage[0].describe()
    assert "lost no records" in report.damage[0].describe()


def test_a_run_cut_short_keeps_all_but_its_last_frame_and_names_its_seqs(
        tmp_path: Path) -> None:
    rd, total = short_run(tmp_path)
    seg = next((rd / "log").glob("*.seg"))
    last = frames_of(rd)[-1]
    with seg.open("r+b") as fh:
        fh.truncate(seg.stat().st_size - 20)
    report = VerifyReport.read(RunDir(rd))
    assert report.status == "torn"
    assert report.records == total - last.count
    (torn,) = report.torn
    assert (torn.first_seq, torn.last_seq) == (last.base_seq, last.next_seq - 1)
    assert f"seqs {last.base_seq}..{last.next_seq - 1}" in torn.describe()
