"""`runwal verify` on a login node, of a run another client is writing (and then
kills -9): through a second mount of the directory (sshfs, tests/sshmount.py),
reads see appends late and frames cut where the other client's write is still
in flight. Verify must never call that damage: a live or crashed run is clean
or has a torn tail, and what it reads only grows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from schema.layout import RunDir
from sshmount import needs_sshfs, sshfs_mount
from syncer.inspect.verify import VerifyReport

CHILD = str(Path(__file__).resolve().parents[2] / "crash_child.py")


@needs_sshfs
def test_verify_through_a_second_mount_of_a_live_then_killed_run_is_never_damage(
        tmp_path: Path) -> None:
    runs = tmp_path / "data" / "runs"
    side = tmp_path / "side"
    writer = subprocess.Popen([sys.executable, CHILD, "paced", str(runs), "live2mnt",
                               f"{side}:2000"])
    try:
        with sshfs_mount(tmp_path / "ssh", tmp_path / "data") as mnt:
            seen: list[tuple[str, int]] = []
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                if (mnt / "runs" / "live2mnt" / "log").is_dir():
                    report = VerifyReport.read(RunDir(mnt / "runs" / "live2mnt"))
                    seen.append((report.status, report.records))
                time.sleep(0.05)
            os.kill(writer.pid, signal.SIGKILL)  # the compute node's process dies
            writer.wait(10)
            done = subprocess.run([sys.executable, "-m", "syncer.cli", "verify",
                                   str(mnt / "runs" / "live2mnt"), "--json"],
                                  capture_output=True, text=True, timeout=120)
        assert len(seen) > 10 and seen[-1][1] > 100, seen[-3:]
        assert {s for s, _ in seen} <= {"clean", "torn"}, [x for x in seen if x[0] == "damaged"]
        counts = [n for _, n in seen]
        assert counts == sorted(counts)  # what a reader sees only grows
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] in ("clean", "torn")
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
