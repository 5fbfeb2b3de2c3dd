"""A real, small filesystem for full-disk tests: a tmpfs mount with ``size=``.

``with small_tmpfs(path, "8m") as fs:`` mounts it (root only: `needs_mount`
skips elsewhere; CI runs as root, so it never skips there), ``fs.resize("600m")``
gives space back the way an operator freeing a quota does, while every file
stays open, and the mount is gone afterwards whatever the test did.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

needs_mount = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


class SmallTmpfs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)

    def free(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[SmallTmpfs]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "runwal-test",
                    str(path)], check=True)
    try:
        yield SmallTmpfs(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
