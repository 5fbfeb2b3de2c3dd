"""Content-addressed media files: ``files/media/<kind>/<sha256>.<ext>``.

Written by the media worker only (worker.py), before the ``media`` record
that names the file is queued, so a record never refers to a file that is not
complete: the bytes go to a temp name in the same directory and are renamed
into place (a ``kill -9`` leaves at most a ``.*.tmp`` file that no record
names; the next store of the run removes it). The name is the sha256 of the
bytes, so identical content (the same image logged every step, a resumed
run logging what the first process did) is written once.

Each new file is fsync'd, and its directory entry with it, before the record
that names it is queued: a power cut then never keeps a record whose file it
lost. Without it a cut lost every image of the run ever stored (tests/
logwriter/wal/test_power_cut.py), since nothing ever made ``files/media``
durable. The cost is the media worker's, off the training thread (two fsyncs
per new file; content already stored costs none; bench/media_bench.py).
Readers still check ``size`` (docs/FORMAT.md, "Media and artifacts"): a run
written before, or copied carelessly, may hold a short file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from schema.atomic import make_dirs, write_atomic

MEDIA_DIR = "media"


class MediaStore:
    """The media files of one run, under its ``files/`` directory."""

    def __init__(self, files_dir: Path) -> None:
        self.files_dir = files_dir
        self._known: set[str] = set()  # relative paths known complete
        self._swept = False
        self.written = 0  # files written (not reused)
        self.reused = 0

    def put(self, kind: str, ext: str, data: bytes) -> dict[str, Any]:
        """Store ``data``; returns the item's ``file``, ``size`` and ``sha256``."""
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{MEDIA_DIR}/{kind}/{digest}.{ext}"
        out = {"file": rel, "size": len(data), "sha256": digest}
        if rel in self._known:
            self.reused += 1
            return out
        dest = self.files_dir / rel
        if not self.files_dir.is_dir():  # the run directory is gone: never re-create it
            raise FileNotFoundError(2, "the run's files/ directory is gone", str(self.files_dir))
        if not self._swept:
            self._sweep()
        try:
            same = dest.stat().st_size == len(data)
        except OSError:
            same = False
        if same:
            self.reused += 1
        else:
            make_dirs(dest.parent)  # each new level fsync'd into its parent
            _write_replace(dest, data)
            self.written += 1
        self._known.add(rel)
        return out

    def _sweep(self) -> None:
        """Remove temp files a killed process left: any other pid's is dead (one
        writing process per run: wal/writerlock.py); this process's may be in flight (the
        TensorBoard importer stores images through a MediaStore of its own)."""
        self._swept = True
        media = self.files_dir / MEDIA_DIR
        mine = f".{os.getpid()}."
        with contextlib.suppress(OSError):
            for tmp in media.glob("*/.*.tmp"):
                if mine not in tmp.name:
                    with contextlib.suppress(OSError):
                        tmp.unlink()


def _write_replace(dest: Path, data: bytes) -> None:
    # pid and thread: two stores of one process may write the same content at once
    write_atomic(dest, data,
                 tmp=dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp"))
