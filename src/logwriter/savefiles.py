"""``run.save()``: snapshot user files into ``<run>/files/`` and emit FILE records.

Policies (wandb's names):

* ``now``  -- snapshot at the call. Hard-linked when source and run dir share
  a filesystem (free for multi-GB checkpoints), copied otherwise.
* ``end``  -- snapshot at finish(). Always copied: the user may keep writing
  the source, and a hard link would follow those writes.
* ``live`` -- snapshot now, then again whenever mtime or size changes
  (checked every few seconds) and at finish(). Copied to a temp name and
  renamed, so a syncer never reads a half-copied file.

Slow work happens on the saver's own thread (``runwal-files-<id>``, started
by the first save() that needs it, joined by finish()): the sha256 of a
``now`` snapshot, and the re-snapshots of changed ``live`` files. Never on
the writer thread, whose every stalled moment would hold back log() (see
backlog.py), and never twice on the caller: saving a large checkpoint costs
the training loop a link or a copy, not a hash. The FILE record of a ``now``
snapshot is therefore queued when its hash is known, after records logged
meanwhile, with the ts of the save() call.

A failed snapshot (disk full, a file that vanished, a directory removed) is
never raised into training: save() returns the paths it did save, counts the
others in ``errors`` and hands back one line about them, which the Run warns
with (SaveWarning). Nothing is ever written outside ``files/``, which is
never re-created if the run directory was removed.

The run's own files (log/, files/, sync/, run.json) are never saved into it.
A file the script wrote into the run directory itself is: wandb scripts write
their checkpoints into ``wandb.run.dir`` and ``wandb.save()`` them from there;
it is stored under its path relative to the run directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logwriter.text import clean_text
from schema.layout import FILES_DIR, LOG_DIR, RUN_JSON, SYNC_DIR
from schema.records import RecordType

Put = Callable[..., Any]
POLICIES = ("now", "end", "live")
LIVE_CHECK_S = 2.0
JOIN_TIMEOUT = 120.0  # finish() waits this long for hashes and live copies in flight
_FILE = int(RecordType.FILE)


def sha256_of(path: Path) -> str:
    import hashlib  # only a save() pays for it

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(src: Path, dest: Path) -> None:
    import shutil  # only a save() pays for it

    shutil.copy2(src, dest)


class FileSaver:
    """Tracks saved files of one run; ``put(rtype, ts, body)`` queues records."""

    def __init__(self, run_dir: Path, put: Put, name: str = "runwal-files") -> None:
        self.files_dir = (run_dir / FILES_DIR).resolve()
        self.run_dir = run_dir.resolve()
        self._put = put
        self._name = name
        self._lock = threading.Lock()
        self._end: dict[Path, str] = {}  # source -> relative path
        self._live: dict[Path, tuple[str, tuple[int, int] | None]] = {}
        self._live_sha: dict[str, str] = {}  # rel -> sha256 of its last FILE record
        self._jobs: deque[Callable[[], None]] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.last_error: str | None = None
        # Seams for fault tests: how a snapshot links and copies.
        self.link: Callable[[Path, Path], None] = os.link
        self.copy: Callable[[Path, Path], None] = _copy

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
        thread = self._thread
        if thread is not None:
            self._stopping = True
            self._wake.set()
            thread.join(JOIN_TIMEOUT)
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
        if thread is not None and thread.is_alive():
            return (f"runwal: finish() stopped waiting after {JOIN_TIMEOUT:g}s for saved "
                    "files to be hashed or copied; their FILE records may be missing")
        if self.errors > before:
            return (f"runwal: finish() could not snapshot a saved file ({self.last_error}); "
                    "the run finished without it")
        return None

    def detach(self) -> None:
        """In a forked child: the thread did not survive; forget pending work."""
        self._thread = None
        self._jobs.clear()
        self._live.clear()
        self._end.clear()

    # -- the saver thread ------------------------------------------------------

    def _submit(self, job: Callable[[], None] | None) -> None:
        if job is not None:
            self._jobs.append(job)
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
            self._thread.start()
        self._wake.set()

    def _main(self) -> None:
        while True:
            self._wake.wait(LIVE_CHECK_S)
            self._wake.clear()
            while self._jobs:
                job = self._jobs.popleft()
                try:
                    job()
                except OSError as exc:
                    self._failed("a saved file", exc)
                except Exception as exc:  # a bug here must not kill the thread
                    self._failed("a saved file", OSError(str(exc)))
            if self._stopping:
                return
            self._check_live()

    def _check_live(self) -> None:
        """Re-snapshot live files that changed."""
        with self._lock:
            live = list(self._live.items())
        for src, (rel, stamp) in live:
            now = self._stamp(src)
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
        """A file of the run's own making (its log, snapshots, sync state, run.json)."""
        if not src.is_relative_to(self.run_dir):
            return False
        top = src.relative_to(self.run_dir).parts[0]
        return top in (LOG_DIR, FILES_DIR, SYNC_DIR, RUN_JSON) or top.startswith(".")

    def _relative(self, src: Path, base: Path) -> str:
        if src.is_relative_to(self.run_dir):  # written into the run directory (wandb's run.dir)
            base = self.run_dir
        rel = src.relative_to(base) if src.is_relative_to(base) else Path(src.name)
        dest = (self.files_dir / rel).resolve()
        if not dest.is_relative_to(self.files_dir):
            rel = Path(src.name)
        # Stored under a name that is valid text, so the FILE record can name it.
        return clean_text(rel.as_posix())

    @staticmethod
    def _stamp(src: Path) -> tuple[int, int] | None:
        try:
            st = src.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _snapshot(self, src: Path, rel: str, policy: str, *, link: bool
                  ) -> tuple[int, int] | None:
        """Copy or link ``src`` to files/rel and queue its FILE record (a ``now``
        snapshot's record once the saver thread hashed it)."""
        dest = self.files_dir / rel
        if not self.files_dir.is_dir():  # the run directory is gone: never re-create it
            raise FileNotFoundError(2, "the run's files/ directory is gone", str(self.files_dir))
        dest.parent.mkdir(parents=True, exist_ok=True)
        stamp = self._stamp(src)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            linked = False
            if link:
                try:
                    self.link(src, tmp)
                    linked = True
                except OSError:
                    linked = False
            if not linked:
                self.copy(src, tmp)
            os.replace(tmp, dest)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        ts = time.time()
        size = dest.stat().st_size
        if policy == "now":
            # Never rewritten, so its hash can wait for the saver thread.
            self._submit(lambda: self._put(_FILE, ts, _body(dest, rel, size, policy)))
        else:  # live/end copies may be replaced again: hash them now
            body = _body(dest, rel, size, policy)
            with self._lock:
                # A live file seen changing mid-copy is looked at again; the same
                # bytes a second time are not a new version.
                same = policy == "live" and self._live_sha.get(rel) == body["sha256"]
                self._live_sha[rel] = body["sha256"]
            if not same:
                self._put(_FILE, ts, body)
            if policy == "live":
                self._submit(None)  # the thread watches live files from now on
        return stamp


def _body(dest: Path, rel: str, size: int, policy: str) -> dict[str, Any]:
    return {"path": rel, "size": size, "sha256": sha256_of(dest), "policy": policy}
