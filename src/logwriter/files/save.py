"""``run.save()``: snapshot user files into ``<run>/files/`` and emit FILE records.

Policies (wandb's names):

* ``now``  -- snapshot at the call. Hard-linked when source and run dir share
  a filesystem (free for multi-GB checkpoints), copied otherwise.
* ``end``  -- snapshot at finish(). Always copied: the user may keep writing
  the source, and a hard link would follow those writes.
* ``live`` -- snapshot now, then again whenever mtime or size changes
  (checked every few seconds) and at finish(). Copied to a temp name and
  renamed, so a syncer never reads a half-copied file.

Slow work happens on the saver's own thread (saver.py): the sha256
of a ``now`` snapshot, and the re-snapshots of changed ``live`` files. The
FILE record of a ``now`` snapshot is therefore queued when its hash is known,
after records logged meanwhile, with the ts of the save() call. How one
snapshot's bytes are placed and described is snapshot.py.

A failed snapshot (disk full, a file that vanished, a directory removed) is
never raised into training: save() returns the paths it did save, counts the
others in ``errors`` and hands back one line about them, which the Run warns
with (SaveWarning). Nothing is ever written outside ``files/``, which is
never re-created if the run directory was removed.

The run's own files (log/, sync/, run.json, files/media/, files/artifacts/
and the stores' temp files) are never saved into it. ``run.dir`` is files/
itself, as in wandb: a file the script wrote there and save()s is recorded
where it is, under its path relative to files/ (no copy onto itself; a
``live`` one is hashed again in place when it changes). At finish(), after
``end`` and ``live`` files, the files of files/ that no FILE record names
with their bytes get one too (policy ``end``): wandb uploads everything in
run.dir, saved or not; dirfiles.py says what that walk skips and costs.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from logwriter.files import snapshot
from logwriter.files.dirfiles import MAX_FILES, candidates, hash_regular, stores_own
from logwriter.files.saver import SaverThread
from logwriter.files.snapshot import Stamp, file_body
from logwriter.values.text import clean_text
from schema.atomic import make_dirs
from schema.layout import FILES_DIR, LOG_DIR, RUN_JSON, SYNC_DIR
from schema.records import RecordType

Put = Callable[..., Any]
POLICIES = ("now", "end", "live")
JOIN_TIMEOUT = 120.0  # finish() waits this long for hashes and live copies in flight
_FILE = int(RecordType.FILE)


class FileSaver:
    """Tracks saved files of one run; ``put(rtype, ts, body)`` queues records."""

    def __init__(self, run_dir: Path, put: Put, name: str = "runwal-files",
                 recorded: dict[str, str] | None = None) -> None:
        self.files_dir = (run_dir / FILES_DIR).resolve()
        self.run_dir = run_dir.resolve()
        self._put = put
        self._lock = threading.Lock()
        self._end: dict[Path, str] = {}  # source -> relative path
        self._live: dict[Path, tuple[str, Stamp | None]] = {}
        # rel -> sha256 of its last FILE record, this process's and (resumed) earlier ones'
        self._recorded: dict[str, str] = dict(recorded or {})
        # rel -> (mtime_ns, size) of files/rel when this process hashed it for its record:
        # finish() does not hash an unchanged saved file again
        self._hashed: dict[str, Stamp] = {}
        self._thread = SaverThread(name, self._check_live, self._failed)
        self._detached = False
        self.errors = 0
        self.last_error: str | None = None
        # Seams for fault tests: how a snapshot links and copies.
        self.link: Callable[[Path, Path], None] = os.link
        self.copy: Callable[[Path, Path], None] = snapshot.copy

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None,
             policy: str) -> tuple[list[str], str | None]:
        """Resolve the glob and act per policy; returns the relative paths under files/
        that were saved (or registered), and one line about those that failed, if any."""
        if policy not in POLICIES:
            raise ValueError(f"runwal: save(policy={policy!r}): expected one of {POLICIES}")
        pattern = os.fspath(glob_str)
        base = self._base(pattern, base_path)
        out: list[str] = []
        failed: list[str] = []
        for name in sorted(glob.glob(pattern, recursive=True)):
            src = Path(name).resolve()
            if not src.is_file() or self._the_runs_own(src):
                continue
            rel = self._relative(src, base)
            try:
                if policy == "now":
                    self._snapshot(src, rel, policy, link=True)
                elif policy == "end":
                    with self._lock:
                        self._end[src] = rel
                else:
                    stamp = self._snapshot(src, rel, policy, link=False)
                    with self._lock:
                        self._live[src] = (rel, stamp)
            except OSError as exc:
                failed.append(self._failed(name, exc))
                continue
            out.append(rel)
        if not failed:
            return out, None
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return out, (f"runwal: save() could not snapshot {failed[0]}{more}; the run goes on "
                     "without it (counted in run.stats()['save_errors'])")

    def finish(self) -> str | None:
        """finish(), on the caller: let the thread finish its work, then snapshot
        ``end`` files and changed ``live`` files; one line about failures, if any."""
        self._thread.stop(JOIN_TIMEOUT)
        before = self.errors
        self._check_live()
        with self._lock:
            end = list(self._end.items())
            self._end.clear()
        for src, rel in end:
            try:
                self._snapshot(src, rel, "end", link=False)
            except OSError as exc:
                self._failed(str(src), exc)
        left_out = self._record_unsaved()
        if self._thread.alive():
            return (f"runwal: finish() stopped waiting after {JOIN_TIMEOUT:g}s for saved "
                    "files to be hashed or copied; their FILE records may be missing")
        if self.errors > before:
            return (f"runwal: finish() could not snapshot a saved file ({self.last_error}); "
                    "the run finished without it")
        if left_out:
            return (f"runwal: finish() recorded {MAX_FILES} files written into run.dir "
                    f"({self.files_dir}) and left {left_out} more unrecorded; they stay on "
                    "disk but `runwal sync` does not upload them")
        return None

    def _record_unsaved(self) -> int:
        """The files the script wrote into run.dir (files/) and never saved, or rewrote
        since: a FILE record each, policy ``end`` (dirfiles.py). Returns how many were
        left out past MAX_FILES."""
        if self._detached or not self.files_dir.is_dir():
            return 0
        done = left_out = 0
        for path, rel, stamp in candidates(self.files_dir):
            name = clean_text(rel.as_posix())
            if self._hashed.get(name) == stamp:  # recorded by this process, unchanged since
                continue
            try:
                found = hash_regular(path)
            except OSError as exc:
                self._failed(str(path), exc)
                continue
            if found is None or self._recorded.get(name) == found[1]:
                continue
            if done >= MAX_FILES:
                left_out += 1
                continue
            done += 1
            if name != rel.as_posix():  # a name no record can hold: a copy under a clean one
                try:
                    self._snapshot(path, name, "end", link=False)
                except OSError as exc:
                    self._failed(str(path), exc)
                continue
            size, sha = found
            self._record(time.time(), ({"path": name, "size": size, "sha256": sha,
                                        "policy": "end"}, stamp))
        return left_out

    def _record(self, ts: float, hashed: tuple[dict[str, Any], Stamp]) -> None:
        """Queue a FILE record, and remember which bytes it names."""
        body, stamp = hashed
        with self._lock:
            self._recorded[body["path"]] = body["sha256"]
            self._hashed[body["path"]] = stamp
        self._put(_FILE, ts, body)

    def detach(self) -> None:
        """In a forked child: the thread did not survive; forget pending work."""
        self._detached = True
        self._thread.detach()
        self._live.clear()
        self._end.clear()

    def _check_live(self) -> None:
        """Re-snapshot live files that changed (the saver thread's tick, and finish())."""
        with self._lock:
            live = list(self._live.items())
        for src, (rel, stamp) in live:
            now = snapshot.stamp(src)
            if now is None or now == stamp:
                continue
            try:
                new = self._snapshot(src, rel, "live", link=False)
            except OSError as exc:
                self._failed(str(src), exc)
                continue
            with self._lock:
                self._live[src] = (rel, new)

    def _failed(self, name: str, exc: OSError) -> str:
        self.errors += 1
        self.last_error = f"{name}: {exc.strerror or exc}"
        return self.last_error

    # -- snapshots ---------------------------------------------------------------

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

    def _the_runs_own(self, src: Path) -> bool:
        """A file of the run's own making (its log, sync state, run.json, media and
        artifact stores, temp files); not a file the script wrote into files/."""
        if src.is_relative_to(self.files_dir):
            return stores_own(PurePosixPath(src.relative_to(self.files_dir).as_posix()))
        if not src.is_relative_to(self.run_dir):
            return False
        top = src.relative_to(self.run_dir).parts[0]
        return top in (LOG_DIR, SYNC_DIR, RUN_JSON) or top.startswith(".")

    def _relative(self, src: Path, base: Path) -> str:
        if src.is_relative_to(self.files_dir):  # written into run.dir: recorded where it is
            base = self.files_dir
        elif src.is_relative_to(self.run_dir):  # beside files/: kept at the same path in it
            base = self.run_dir
        rel = src.relative_to(base) if src.is_relative_to(base) else Path(src.name)
        dest = (self.files_dir / rel).resolve()
        if not dest.is_relative_to(self.files_dir):
            rel = Path(src.name)
        # Stored under a name that is valid text, so the FILE record can name it.
        return clean_text(rel.as_posix())

    def _snapshot(self, src: Path, rel: str, policy: str, *, link: bool) -> Stamp | None:
        """Copy or link ``src`` to files/rel and queue its FILE record (a ``now``
        snapshot's record once the saver thread hashed it)."""
        dest = self.files_dir / rel
        if not self.files_dir.is_dir():  # the run directory is gone: never re-create it
            raise FileNotFoundError(2, "the run's files/ directory is gone", str(self.files_dir))
        make_dirs(dest.parent)  # each new level fsync'd into its parent: power cuts
        stamp = snapshot.stamp(src)
        if dest != src:  # else already in files/ (written into run.dir): nothing to copy
            snapshot.place(src, dest, link=self.link if link else None, copy=self.copy)
        self._queue(dest, rel, policy)
        return stamp

    def _queue(self, dest: Path, rel: str, policy: str) -> None:
        """The FILE record of files/rel: hashed on the saver thread for ``now``, here
        for ``live``/``end``."""
        ts = time.time()
        if policy == "now":
            # Never rewritten by runwal, so its hash can wait for the saver thread.
            self._thread.submit(lambda: self._record(ts, file_body(dest, rel, policy)))
            return
        body, stamp = file_body(dest, rel, policy)  # live/end copies may be replaced: hash now
        with self._lock:
            # A live file seen changing mid-copy is looked at again; the same
            # bytes a second time are not a new version.
            same = policy == "live" and self._recorded.get(rel) == body["sha256"]
            self._recorded[rel] = body["sha256"]
            self._hashed[rel] = stamp
        if not same:
            self._put(_FILE, ts, body)
        if policy == "live":
            self._thread.submit(None)  # the thread watches live files from now on
