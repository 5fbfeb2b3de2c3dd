"""A power cut under a logging process, on a filesystem that really loses what was
not fsync'd (tests/powercutfs.py: file bytes as of their last fsync, directory
entries as of their directory's last fsync).

The child logs at a steady rate and writes each acknowledged step, with its time,
to a side file on the real disk; we kill -9 it at a random moment and cut the
power at once. After the "reboot" the run directory must be there, run.json
whole, the log readable with at most a torn tail, and the acknowledged steps that
are gone must all be younger than the loss bound. bench/reliability.py --fs
powercut measures the figures at three rates; this keeps two trials and a loose
bound for CI.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from logwriter_util import acked_steps, damage, history, read_run
from powercut import needs_fuse, powercut_mount

CHILD = str(Path(__file__).resolve().parents[2] / "crash_child.py")
LOSS_BOUND = 1.0  # seconds; README: about two flush intervals (0.1 s) plus one fsync


def cut_under_logging(base: Path, run_id: str, rate: float, rng: random.Random,
                      torn: str = "drop") -> tuple[Path, dict[int, float], float]:
    """Log at ``rate`` rows/s on a power-cut mount, kill -9 and cut at a random moment;
    returns (the run dir after the cut, acknowledged step -> time, the kill's time)."""
    side = base / f"{run_id}.side"
    with powercut_mount(base / run_id, torn=torn) as fs:
        proc = subprocess.Popen([sys.executable, CHILD, "paced", str(fs.mount / "runs"),
                                 run_id, f"{side}:{rate}"])
        try:
            deadline = time.monotonic() + 60
            while not side.exists() or side.stat().st_size == 0:
                assert proc.poll() is None and time.monotonic() < deadline, "child never logged"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.3, 1.2))
        finally:
            proc.kill()
            proc.wait()
        killed = time.monotonic()
        image = fs.cut()
    return image / "runs" / run_id, acked_steps(side), killed


@needs_fuse
def test_a_power_cut_keeps_the_run_and_loses_only_the_last_flushes(tmp_path: Path) -> None:
    rng = random.Random(17)
    for trial in range(2):
        run_dir, acked, killed = cut_under_logging(tmp_path, f"cut{trial}", 1000, rng)
        assert run_dir.is_dir(), "the run directory did not survive the power cut"
        identity = json.loads((run_dir / "run.json").read_text())
        assert identity["run_id"] == f"cut{trial}"
        records, events = read_run(run_dir)
        assert damage(events) == [], events  # a torn tail at most
        rows = history(records)
        assert rows, "no row survived"
        lost = [step for step in acked if step not in rows]
        oldest_lost = min((acked[s] for s in lost), default=killed)
        assert killed - oldest_lost <= LOSS_BOUND, (
            f"lost {len(lost)} acknowledged rows, the oldest {killed - oldest_lost:.2f} s "
            "before the cut")
        survived = [s for s in acked if s in rows]
        assert survived == list(range(len(survived))), "a hole in what survived"


@needs_fuse
def test_a_directory_fsync_that_fails_is_reported_not_swallowed(tmp_path: Path) -> None:
    """init() on a filesystem whose directory fsyncs fail (EIO) is a RunDirError naming
    the error: the run would not survive a power cut, and the user hears it now. The
    syncer's checkpoint save raises the same OSError instead of claiming durability."""
    import errno

    import pytest

    import logwriter
    from logwriter.errors import RunDirError
    from schema.atomic import fsync_dir, write_atomic

    with powercut_mount(tmp_path / "fs", eio_fsyncdir=True) as fs:
        with pytest.raises(RunDirError, match="Input/output error"):
            logwriter.init(dir=fs.mount / "runs", id="eio", capture_console=False,
                           stats_interval=0)
        with pytest.raises(OSError) as caught:
            fsync_dir(fs.mount)
        assert caught.value.errno == errno.EIO
        with pytest.raises(OSError):
            write_atomic(fs.mount / "checkpoint.json", b"{}")
        fs.cut()


def _broken_files(run_dir: Path, records: list) -> dict[int, str]:
    """seq -> why, for each record whose file in files/ is not what the record says
    (media items and artifact entries; for save()'s file records the last per path, as
    a later save may rewrite the file)."""
    import hashlib

    from syncer.inspect.mediafiles import check_file, record_files

    broken: dict[int, str] = {}
    last_file: dict[str, tuple[int, tuple[str, int, str]]] = {}
    for rec in records:
        if rec.kind == "file":
            body = rec.body
            last_file[body["path"]] = (rec.seq, (body["path"], body["size"], body["sha256"]))
        for ref in record_files(rec):
            why = check_file(run_dir, ref)
            if why is not None:
                broken[rec.seq] = why
    for seq, (path, size, sha) in last_file.values():
        try:
            data = (run_dir / "files" / path).read_bytes()
        except OSError as exc:
            broken[seq] = str(exc)
            continue
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
            broken[seq] = f"{path}: {len(data)} bytes, not the saved {size}"
    return broken


@needs_fuse
def test_a_power_cut_under_images_saves_and_artifacts_keeps_every_recorded_file(
        tmp_path: Path) -> None:
    """Files written beside the log (images, save(), artifacts): after a cut the log is
    whole, and every record that survived names a file that survived as recorded."""
    from schema.layout import RunDir
    from syncer.inspect.verify import VerifyReport

    side = tmp_path / "rich.side"
    with powercut_mount(tmp_path / "rich") as fs:
        proc = subprocess.Popen([sys.executable, CHILD, "rich", str(fs.mount / "runs"), "rich1",
                                 str(side)])
        try:
            deadline = time.monotonic() + 60
            while not side.exists() or len(side.read_text().splitlines()) < 25:
                assert proc.poll() is None and time.monotonic() < deadline, "child stalled"
                time.sleep(0.05)
        finally:
            proc.kill()
            proc.wait()
        image = fs.cut()
    run_dir = image / "runs" / "rich1"
    records, events = read_run(run_dir)
    assert damage(events) == [], events  # the log: a torn tail at most
    assert sum(r.kind == "media" for r in records) >= 5
    assert any(r.kind == "artifact" for r in records) and any(r.kind == "file" for r in records)
    # every file is fsync'd before the record naming it is queued: a record that
    # survived names a file that did (before, the cut lost every image ever stored)
    assert _broken_files(run_dir, records) == {}
    report = VerifyReport.read(RunDir(run_dir))
    assert report.status in ("clean", "torn") and report.file_problems == 0, report.notes
