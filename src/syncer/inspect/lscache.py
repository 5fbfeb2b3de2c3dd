"""What ``runwal ls`` remembers about runs whose log has not changed.

An ``ls`` row needs the whole log of its run (steps, records, status, health),
so listing a login node's runs directory read every byte of every run: over a
network filesystem, 10,000 runs were minutes of reads. A row is now kept in a
cache with the run's *fingerprint*, and reused while the fingerprint holds:

    [run.json's (size, mtime_ns) or None,
     [[segment name, size, mtime_ns], ...] in name order,
     [[stream label, [[segment name, size, mtime_ns], ...]], ...] in label order]

The last is a shared run's writer streams (``streams/<label>/log``, [] for a
run of one stream): a stream that grows, or a new one, changes the row too.

A writer only ever appends to segments, creates new ones and replaces
run.json, so an unchanged fingerprint means the log reads the same (media and
saved files come with a record, so the row's size moves with them). What
changes without the log, the sync state (``sync/*.json``), is read fresh on
every ``ls``. A hit costs a stat of run.json, a listing of ``log/`` and a
stat per segment (and a listing of ``streams/``, with the same per stream);
a miss costs what ``ls`` cost before, plus those.

The cache is one JSON file per runs directory, ``ls/<sha256 of its resolved
path>.json`` under ``$RUNWAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/runwal``,
else ``~/.cache/runwal``; it is written atomically and only when a row
changed. A cache that cannot be read or written is ignored: ``ls`` then
reads every run, as before. ``RUNWAL_CACHE_DIR=`` (empty) switches it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from schema.atomic import make_dirs, write_atomic
from schema.layout import LOG_DIR, RUN_JSON, RunDir
from schema.segment import SEGMENT_SUFFIX

VERSION = 2  # 2: rows of shared runs (streams, their fingerprints)
Fingerprint = list[Any]


def cache_root() -> Path | None:
    """Where runwal keeps caches; None when ``RUNWAL_CACHE_DIR`` is set empty."""
    env = os.environ.get("RUNWAL_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "runwal"


def fingerprint(run: Path) -> Fingerprint | None:
    """The run's fingerprint (module docstring); None when a log cannot be listed."""
    try:
        st = os.stat(run / RUN_JSON)
        meta: list[int] | None = [st.st_size, st.st_mtime_ns]
    except OSError:
        meta = None
    segments = _segments(run / LOG_DIR)
    streams = []
    for stream in RunDir(run).streams():
        listed = _segments(stream.log_dir)
        if listed is None:
            return None
        streams.append([stream.label, listed])
    return None if segments is None else [meta, segments, streams]


def _segments(log_dir: Path) -> list[list[Any]] | None:
    """[[name, size, mtime_ns], ...] of the segments in ``log_dir``; None if unlistable."""
    segments = []
    try:
        with os.scandir(log_dir) as it:
            entries = sorted((e for e in it if e.name.endswith(SEGMENT_SUFFIX)),
                             key=lambda e: e.name)
        for e in entries:
            st = e.stat(follow_symlinks=False)
            segments.append([e.name, st.st_size, st.st_mtime_ns])
    except OSError:
        return None
    return segments


class LsCache:
    """The cached rows of one runs directory, keyed by run directory name."""

    def __init__(self, directory: Path) -> None:
        root = cache_root()
        self.file: Path | None = None
        self.rows: dict[str, dict[str, Any]] = {}
        self.changed = False
        self.hits = 0
        if root is None:
            return
        key = hashlib.sha256(str(directory.resolve()).encode("utf-8", "surrogateescape"))
        self.file = root / "ls" / f"{key.hexdigest()}.json"
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError, RecursionError):
            data = json.loads(self.file.read_bytes())
            if data.get("version") == VERSION and isinstance(data.get("rows"), dict):
                self.rows = data["rows"]

    def get(self, name: str, fp: Fingerprint | None) -> dict[str, Any] | None:
        """The cached row of run ``name`` when its fingerprint is still ``fp``."""
        got = self.rows.get(name)
        if fp is None or not isinstance(got, dict) or got.get("fingerprint") != fp:
            return None
        row = got.get("row")
        if not isinstance(row, dict):
            return None
        self.hits += 1
        return dict(row)

    def put(self, name: str, fp: Fingerprint | None, row: dict[str, Any]) -> None:
        if fp is None:
            return
        self.rows[name] = {"fingerprint": fp, "row": row}
        self.changed = True

    def keep_only(self, names: set[str]) -> None:
        """Forget runs that are gone (deleted, moved)."""
        gone = set(self.rows) - names
        for name in gone:
            del self.rows[name]
        self.changed = self.changed or bool(gone)

    def save(self) -> None:
        """Write the cache when a row changed; failures are ignored (it is a cache)."""
        if self.file is None or not self.changed:
            return
        with contextlib.suppress(OSError, ValueError, TypeError):
            make_dirs(self.file.parent, parents=True)
            data = json.dumps({"version": VERSION, "rows": self.rows}, allow_nan=False,
                              separators=(",", ":"))
            write_atomic(self.file, data.encode())
