"""``run.save()``: snapshot user files into ``<run>/files/`` and emit FILE records.

Policies (wandb's names):

* ``now``  -- snapshot at the call. Hard-linked when source and run dir share
  a filesystem (free for multi-GB checkpoints), copied otherwise.
* ``end``  -- snapshot at finish(). Always copied: the user may keep writing
  the source, and a hard link would follow those writes.
* ``live`` -- snapshot now, then again whenever mtime or size changes
  (checked by the writer thread every few seconds) and at finish(). Copied to
  a temp name and renamed, so a syncer never reads a half-copied file.

The sha256 of a ``now`` snapshot is computed on the writer thread (the FILE
body is a callable), so saving a large checkpoint costs the training loop a
link or a copy, not a hash. Nothing is ever written outside ``files/``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schema.records import RecordType

Put = Callable[..., Any]
POLICIES = ("now", "end", "live")
LIVE_CHECK_S = 2.0


def sha256_of(path: Path) -> str:
    import hashlib  # only a save() pays for it

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class FileSaver:
    """Tracks saved files of one run; ``put(rtype, ts, body)`` queues records."""

    def __init__(self, run_dir: Path, put: Put) -> None:
        self.files_dir = (run_dir / "files").resolve()
        self.run_dir = run_dir.resolve()
        self._put = put
        self._lock = threading.Lock()
        self._end: dict[Path, str] = {}  # source -> relative path
        self._live: dict[Path, tuple[str, tuple[int, int] | None]] = {}

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None,
             policy: str) -> list[str]:
        """Resolve the glob and act per policy; returns the relative paths under files/."""
        if policy not in POLICIES:
            raise ValueError(f"runwal: save(policy={policy!r}): expected one of {POLICIES}")
        pattern = os.fspath(glob_str)
        base = self._base(pattern, base_path)
        out = []
        for name in sorted(glob.glob(pattern, recursive=True)):
            src = Path(name).resolve()
            if not src.is_file() or src.is_relative_to(self.run_dir):
                continue
            rel = self._relative(src, base)
            out.append(rel)
            if policy == "now":
                self._snapshot(src, rel, policy, link=True)
            elif policy == "end":
                with self._lock:
                    self._end[src] = rel
            else:
                stamp = self._snapshot(src, rel, policy, link=False)
                with self._lock:
                    self._live[src] = (rel, stamp)
        return out

    def tick(self) -> None:
        """Re-snapshot live files that changed (writer thread, every few seconds)."""
        with self._lock:
            live = list(self._live.items())
        for src, (rel, stamp) in live:
            now = self._stamp(src)
            if now is not None and now != stamp:
                new = self._snapshot(src, rel, "live", link=False, block=False)
                with self._lock:
                    self._live[src] = (rel, new)

    def finish(self) -> None:
        """Snapshot ``end`` files and changed ``live`` files (caller thread, at finish)."""
        self.tick()
        with self._lock:
            end = list(self._end.items())
            self._end.clear()
        for src, rel in end:
            self._snapshot(src, rel, "end", link=False)

    @staticmethod
    def _base(pattern: str, base_path: str | os.PathLike[str] | None) -> Path:
        if base_path is not None:
            return Path(base_path).resolve()
        if not os.path.isabs(pattern):
            return Path.cwd().resolve()
        # Absolute glob: keep paths relative to the part before the first wildcard.
        parts = Path(pattern).parts
        fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)),
                                          len(parts) - 1)]]
        return Path(*fixed).resolve() if fixed else Path("/")

    def _relative(self, src: Path, base: Path) -> str:
        rel = src.relative_to(base) if src.is_relative_to(base) else Path(src.name)
        dest = (self.files_dir / rel).resolve()
        if not dest.is_relative_to(self.files_dir):
            rel = Path(src.name)
        return rel.as_posix()

    @staticmethod
    def _stamp(src: Path) -> tuple[int, int] | None:
        try:
            st = src.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _snapshot(self, src: Path, rel: str, policy: str, *, link: bool,
                  block: bool = True) -> tuple[int, int] | None:
        """Copy or link ``src`` to files/rel and queue its FILE record."""
        import shutil  # only a save() pays for it

        dest = self.files_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        stamp = self._stamp(src)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            linked = False
            if link:
                try:
                    os.link(src, tmp)
                    linked = True
                except OSError:
                    linked = False
            if not linked:
                shutil.copy2(src, tmp)
            os.replace(tmp, dest)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if block:
                raise
            return stamp  # live re-snapshot failed: try again at the next tick
        ts = time.time()
        size = dest.stat().st_size

        def body() -> dict[str, Any]:
            return {"path": rel, "size": size, "sha256": sha256_of(dest), "policy": policy}

        # A "now" snapshot is never rewritten, so its hash can wait for the
        # writer thread; live/end copies may be replaced again, so hash them now.
        self._put(int(RecordType.FILE), ts, body if policy == "now" else body(), block=block)
        return stamp
