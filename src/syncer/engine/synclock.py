"""One syncer at a time per run and server: ``sync/<sink>.lock``.

The checkpoint makes *successive* passes over a run exactly-once, not
concurrent ones: two processes syncing the same run to the same server at
the same time (a hybrid-mode follower still retrying while the user runs
`runwal sync`, or `runwal syncd` watching a directory whose runs have their
own followers) could both look the run up, both create it, and both append
the console spool. An advisory ``flock`` on ``sync/<sink>.lock`` serializes
them. The holder writes its pid and what it is (``sync``, ``syncd``, ``follow``:
the command, from `set_role` or the command line) into the file, so the one
left out can say who has the run and what to do about it.

The lock dies with its process (kill -9 included), so it never goes stale.
Where the filesystem refuses flock (some NFS mounts), syncing goes on
without it rather than not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from pathlib import Path

from schema.atomic import make_dirs
from schema.layout import SYNC_DIR
from syncer.sinks.base import sink_file_name

ROLES = ("sync", "syncd", "follow", "ui")
HOLDER_WIDTH = 32  # bytes of "pid role", space-padded: longer than any earlier content
_role: str | None = None


def set_role(role: str) -> None:
    """What this process is, written into every lock it takes (``runwal sync`` etc.)."""
    global _role
    _role = role


def role() -> str:
    """`set_role`'s, else the ``runwal`` subcommand on the command line, else "syncer"."""
    if _role is not None:
        return _role
    for arg in sys.argv[1:3]:
        if arg in ROLES:
            return arg
    return "syncer"


def _who(pid: int | None, what: str) -> str:
    """How a busy message names the holder."""
    at = f" (process {pid})" if pid else ""
    if what == "sync":
        return f"another `runwal sync`{at}"
    if what in ("syncd", "ui"):
        return f"a `runwal {what}`{at}"
    if what == "follow":
        return f"the run's follower{at}"
    return f"process {pid}" if pid else "another process"


class SyncLock:
    """``sync/<sink>.lock`` of one run; ``acquire()`` never blocks."""

    def __init__(self, run_dir: str | os.PathLike[str], sink_name: str):
        self.path = Path(run_dir) / SYNC_DIR / f"{sink_file_name(sink_name)}.lock"
        self._fd = -1

    def acquire(self) -> bool:
        """True when this process now holds the lock (or flock is unsupported here)."""
        if self._fd >= 0:
            return True
        try:
            make_dirs(self.path.parent, parents=False)  # sync/, durably: checkpoints
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return True  # read-only or odd filesystem: the pass itself will say what is wrong
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:  # ENOLCK and friends: no locking on this filesystem
            os.close(fd)
            return True
        with contextlib.suppress(OSError):
            # Overwritten in place at a fixed width, never truncated: ftruncate of a file
            # with data costs ~2 ms here (a journal commit), 10,000 runs ~20 s of passes.
            os.pwrite(fd, f"{os.getpid()} {role()}".ljust(HOLDER_WIDTH - 1).encode() + b"\n", 0)
        self._fd = fd
        return True

    def holder(self) -> int | None:
        """The pid written by the process holding the lock, when readable."""
        return self._holder()[0]

    def _holder(self) -> tuple[int | None, str]:
        """(pid, role) from the file; a runwal before roles wrote the pid alone."""
        try:
            words = self.path.read_text().split()
        except OSError:
            return None, ""
        try:
            pid = int(words[0])
        except (ValueError, IndexError):
            return None, ""
        return pid, words[1] if len(words) > 1 else ""

    def busy_reason(self) -> str:
        pid, what = self._holder()
        kill = f"`kill {pid or 'PID'}`"
        if what == "sync":
            then = "it syncs the run; run this again when it is done"
        elif what in ("syncd", "ui"):
            then = f"it keeps the run up to date; stop it with {kill} to sync by hand"
        else:  # a follower, or a runwal that did not say
            then = (f"a `runwal follow` started by the SDK retries until the run is "
                    f"delivered; stop it with {kill} to sync now")
        return f"busy: {_who(pid, what)} is syncing this run to this server ({then})"

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the flock

    def __enter__(self) -> SyncLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
