"""Mount tests/powercutfs.py for a test, and cut its power.

``with powercut_mount(tmp_path) as fs:`` gives ``fs.mount``, a directory that
behaves as a local disk, and ``fs.cut()``, which unmounts it and returns the
directory holding what a real disk would still hold after losing power there.
A mount that does not come up is a test failure, never a skip: the test
command installs fuse3 (scripts/test.sh); only a machine without /dev/fuse,
or a user who may not mount, skips (`needs_fuse`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FS = str(Path(__file__).resolve().parent / "powercutfs.py")
FUSERMOUNT = shutil.which("fusermount3") or shutil.which("fusermount")

needs_fuse = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or (FUSERMOUNT is None and os.geteuid() != 0),
    reason="no FUSE here (/dev/fuse, fusermount3): scripts/test.sh installs fuse3 as root",
)


class PowerCutMount:
    def __init__(self, base: Path, torn: str, eio_fsyncdir: bool,
                 backing: Path | None, no_flock: bool = False) -> None:
        self.backing = backing or base / "backing"
        self.mount = base / "mnt"
        self.image = base / "after-cut"
        for d in (self.backing, self.mount):
            d.mkdir(parents=True, exist_ok=True)
        self.log = base / "powercutfs.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, FS, str(self.backing), str(self.mount), str(self.image),
                 "--torn", torn, *(["--eio-fsyncdir"] if eio_fsyncdir else []),
                 *(["--no-flock"] if no_flock else [])],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not os.path.ismount(self.mount):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"powercutfs did not mount: {self.log.read_text()}")
            time.sleep(0.02)
        self.cut_done = False

    def cut(self) -> Path:
        """Power off: unmount (what was not fsync'd is gone) and return the disk after."""
        assert FUSERMOUNT is not None, "fusermount3 is part of fuse3 (scripts/test.sh)"
        for _ in range(100):  # EBUSY while the kernel still holds a killed child's files
            if subprocess.run([FUSERMOUNT, "-u", str(self.mount)],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.cut_done = True
        assert self.proc.returncode == 0, self.log.read_text()
        return self.image

    def close(self) -> None:
        if not self.cut_done:
            if FUSERMOUNT is not None:
                subprocess.run([FUSERMOUNT, "-uz", str(self.mount)], capture_output=True)
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()


@contextmanager
def powercut_mount(base: Path, torn: str = "drop", eio_fsyncdir: bool = False,
                   backing: Path | None = None,
                   no_flock: bool = False) -> Iterator[PowerCutMount]:
    """A power-cut filesystem under ``base`` (``torn``, ``eio_fsyncdir``: powercutfs.py's
    --torn, --eio-fsyncdir and --no-flock). ``backing``: mount that directory (another
    mount's backing: two clients of one filesystem, each with its own flock) instead of
    a new one."""
    fs = PowerCutMount(base, torn, eio_fsyncdir, backing, no_flock)
    try:
        yield fs
    finally:
        fs.close()
