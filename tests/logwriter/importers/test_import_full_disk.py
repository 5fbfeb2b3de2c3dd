"""`runwal import` into a really full disk (a small tmpfs): one line and exit 1, no
run and no half import left behind (its space is given back), and the same command
succeeds once there is room."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from importsources import write_scalars
from smallfs import needs_mount, small_tmpfs


def _import(source: Path, into: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncer.cli", "import", "tensorboard",
                           str(source), "--into", str(into)], capture_output=True, text=True,
                          timeout=120)


@needs_mount
def test_an_import_into_a_full_disk_fails_cleanly_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "tb"
    write_scalars(source, 20_000, tag="loss")
    with small_tmpfs(tmp_path / "disk", "100k") as fs:
        runs = fs.path / "runs"
        failed = _import(source, runs)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "Traceback" not in failed.stderr
        assert "failed" in failed.stdout
        left = sorted(p.relative_to(fs.path).as_posix() for p in fs.path.rglob("*"))
        assert not [p for p in left if p.startswith("runs/.importing/")], left
        listed = subprocess.run([sys.executable, "-m", "syncer.cli", "ls", str(runs)],
                                capture_output=True, text=True, timeout=60)
        assert "no runs" in listed.stdout + listed.stderr
        fs.resize("20m")
        done = _import(source, runs)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "imported" in done.stdout
