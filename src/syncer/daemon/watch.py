"""Where ``runwal syncd`` learns that a run changed: filesystem events or polling.

`Watcher` calls ``notify(name)`` with the name of a run directory under the
watched root whenever something in it may have changed; it never reads a log
itself (the scheduler decides whether a pass is due, the pass reads).

Two sources, because no single one works everywhere:

* **events** (watchdog: inotify on Linux): a write to a live segment is seen
  within milliseconds. Only writes, creations and renames are subscribed to:
  open/close/access events would fire for the syncer's own reads and make
  every pass trigger the next one. Everything under ``<run>/sync/`` (the
  syncer's checkpoints and spool) is ignored for the same reason.
* **poll**: network filesystems (NFS, Lustre, GPFS, CIFS, FUSE mounts) deliver
  no inotify events for writes made on *other hosts*, which is exactly where
  training jobs run. A scan stats each run's newest segment (name, size,
  mtime) and ``run.json`` (and each stream's newest segment, for a shared run)
  and notifies the runs whose signature changed. It
  looks only at those few files, never ``files/`` (watchdog's own polling
  observer snapshots the whole tree, user files included). The newest segment
  is *opened* and fstat'ed, not stat'ed: a network filesystem's client answers
  a stat from its attribute cache (sshfs 20 s, NFS ``actimeo`` 3-60 s), so a
  stat sees another host's append that much later, while an open revalidates
  (NFS close-to-open; sshfs asks the server). Through sshfs that took syncd's
  live lag from 5.3 s to 0.6 s at p50 (bench/livelag.py URI --sshfs).

Quiet runs are looked at less often: a run none of whose stat'ed files
changed for `QUIET_AFTER` seconds (by their mtimes) is scanned again only
every `QUIET_EVERY` seconds (or six scan intervals, if longer). A login node
keeps thousands of finished runs next to a few live ones: at 10,000 runs the
safety scan every 10 s cost ~2% of a core of idle CPU, and polling every 0.5 s
would have cost most of one. What it costs: in poll mode, the first write to a
long-quiet run (a resume) is seen within `QUIET_EVERY` seconds instead of one
interval; after it the run is live again and polled at the full rate.

``auto`` picks poll when ``/proc/mounts`` says the root is on such a
filesystem, else events. In events mode the poll still runs, slowly
(`SAFETY_INTERVAL`), to catch what events miss (a full inotify queue, a run
dir moved in before its watch existed), and the first scan, done before
`start` returns, is how the runs already present are found.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from schema.errors import NotARunDir
from schema.layout import LOG_DIR, RUN_JSON, STREAMS_DIR, SYNC_DIR, RunDir, is_run_dir
from schema.segment import list_segments

MODES = ("auto", "events", "poll")
POLL_INTERVAL = 0.5  # seconds between scans in poll mode
SAFETY_INTERVAL = 10.0  # seconds between scans in events mode
QUIET_AFTER = 60.0  # seconds since a run's files last changed after which it is quiet
QUIET_EVERY = 30.0  # seconds between looks at a quiet run (at least 6 scan intervals)
NETWORK_FS = frozenset({
    "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "ceph", "glusterfs",
    "beegfs", "9p", "afs", "panfs", "wekafs", "davfs", "orangefs", "pvfs2",
})  # fmt: skip
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileMovedEvent, DirCreatedEvent, DirMovedEvent,
]  # fmt: skip

# count, newest segment, size, latest mtime, run.json mtime, (label, count, newest, size,
# mtime) per stream
Signature = tuple[int, str, int, int, int, tuple[tuple[str, int, str, int, int], ...]]


def mount_type(path: str | os.PathLike[str], mounts: str = "/proc/mounts") -> str:
    """Filesystem type of the mount holding ``path`` ("" when unknown)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mnt = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = real == mnt or real.startswith(mnt.rstrip("/") + "/")
        if inside and len(mnt) >= len(best):
            best, kind = mnt, fields[2]
    return kind


def is_network_fs(kind: str) -> bool:
    return kind in NETWORK_FS or kind.startswith("fuse")


def choose_mode(
    requested: str, root: str | os.PathLike[str], mounts: str = "/proc/mounts"
) -> tuple[str, str]:
    """(events | poll, why) for ``--watch requested``."""
    if requested != "auto":
        return requested, f"--watch {requested}"
    kind = mount_type(root, mounts)
    if is_network_fs(kind):
        return "poll", f"{kind} filesystem: writes from other hosts raise no events"
    return "events", f"{kind or 'local'} filesystem"


def fresh_stat(path: Path) -> os.stat_result:
    """``path``'s size and times as the file's server has them now: open (which a
    network filesystem's client revalidates, where a stat may answer from its cache)
    and fstat. O_NONBLOCK: a FIFO named like a segment must not hang the scan."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def _newest(log_dir: Path) -> tuple[int, str, int, int]:
    """(segment count, newest segment, its size and mtime) of one stream's log."""
    try:
        segs = list_segments(log_dir)
    except NotARunDir:  # log/ is a file or a symlink loop: its pass reports the run as bad
        segs = []
    size = mtime = 0
    if segs:
        try:
            st = fresh_stat(segs[-1])
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            pass
    return len(segs), segs[-1].name if segs else "", size, mtime


def signature(run: Path) -> Signature | None:
    """What a scan compares: segment count, newest segment, its size and mtime (the
    latest mtime over a shared run's streams), run.json's mtime, and the same of each
    stream (``streams/<label>/log``). None when ``run`` is not (or no longer) a run."""
    if not is_run_dir(run):
        return None
    count, newest, size, mtime = _newest(run / LOG_DIR)
    try:
        ident = (run / RUN_JSON).stat().st_mtime_ns
    except OSError:
        ident = 0
    streams = tuple((s.path.name, *_newest(s.log_dir)) for s in RunDir(run).streams())
    mtime = max([mtime, *(s[4] for s in streams)])
    return (count, newest, size, mtime, ident, streams)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            name = self.watcher.run_of(path) if path else None
            if name is not None:
                self.watcher.notify(name)


class Watcher:
    """Calls ``notify(name)`` for runs under ``root`` that changed; see module doc.

    ``single``: ``root`` is itself one run (named by its directory name), not a
    directory of runs.
    """

    def __init__(
        self,
        root: Path,
        notify: Callable[[str], None],
        *,
        mode: str = "events",
        single: bool = False,
        poll_interval: float = POLL_INTERVAL,
        safety_interval: float = SAFETY_INTERVAL,
    ):
        if mode not in ("events", "poll"):
            raise ValueError(f"mode must be events or poll, not {mode!r}")
        self.root = root
        self.notify = notify
        self.mode = mode
        self.single = single
        self.interval = poll_interval if mode == "poll" else safety_interval
        self.fallback = ""  # why events mode fell back to polling, if it did
        self._prefix = os.path.abspath(root) + os.sep
        self._seen: dict[str, Signature] = {}
        self._next_look: dict[str, float] = {}  # quiet runs: when to stat them again
        self._quiet_every = max(QUIET_EVERY, 6 * self.interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None

    def run_of(self, path: str) -> str | None:
        """The run a changed ``path`` belongs to; None for the syncer's own files."""
        if not path.startswith(self._prefix):
            return None
        parts = path[len(self._prefix) :].split(os.sep, 4)
        inner = parts if self.single else parts[1:]  # the path inside the run
        if inner and (inner[0] == SYNC_DIR or (  # the syncer's own files, a stream's too
                len(inner) > 2 and inner[0] == STREAMS_DIR and inner[2] == SYNC_DIR)):
            return None
        return self.root.name if self.single else (parts[0] or None)

    def scan(self) -> list[str]:
        """Runs whose signature changed since the last scan (all of them the first time)."""
        if self.single:
            names = [self.root.name]
        else:
            try:
                names = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
            except OSError:
                names = []
        changed, alive = [], set()
        now, wall = time.monotonic(), time.time()
        for name in names:
            if name in self._seen and now < self._next_look.get(name, 0.0):
                alive.add(name)  # quiet: not looked at this time
                continue
            sig = signature(self.root if self.single else self.root / name)
            if sig is None:
                continue
            alive.add(name)
            if self._seen.get(name) != sig:
                self._seen[name] = sig
                changed.append(name)
            if wall - max(sig[3], sig[4]) / 1e9 > QUIET_AFTER:
                self._next_look[name] = now + self._quiet_every
            else:
                self._next_look.pop(name, None)
        for gone in set(self._seen) - alive:
            del self._seen[gone]
            self._next_look.pop(gone, None)
        return changed

    def start(self) -> list[str]:
        """Start watching; returns the runs present now (found by the first scan,
        made after the observer started so nothing written in between is missed)."""
        if self.mode == "events":
            # watchdog's inotify thread warns when a directory created in a burst
            # (mkdir -p run/log) is registered twice; the second registration is
            # the same callback, so the warning is noise on the daemon's stderr.
            warnings.filterwarnings("ignore", message=r"Callback with id .* already exists",
                                    category=RuntimeWarning)
            observer = Observer()
            try:
                observer.schedule(_Handler(self), str(self.root), recursive=True,
                                  event_filter=_EVENTS)
                observer.start()
                self._observer = observer
            except OSError as exc:  # inotify watch/instance limits, unsupported fs
                observer.stop()
                self.fallback = f"filesystem events unavailable ({exc}); polling instead"
                self.mode, self.interval = "poll", min(self.interval, POLL_INTERVAL)
        present = self.scan()
        self._thread = threading.Thread(target=self._poll, name="runwal-syncd-poll", daemon=True)
        self._thread.start()
        return present

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            for name in self.scan():
                self.notify(name)

    def close(self, timeout: float = 5.0) -> None:
        """Stop both sources and join their threads (bounded by ``timeout`` each)."""
        self._stop.set()
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
