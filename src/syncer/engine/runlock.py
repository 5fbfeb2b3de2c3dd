"""One syncer at a time per run and server: ``sync/<sink>.lock``.

The checkpoint makes *successive* passes over a run exactly-once, not
concurrent ones: two processes syncing the same run to the same server at
the same time (a hybrid-mode follower still retrying while the user runs
`runwal sync`, or `runwal syncd` watching a directory whose runs have their
own followers) could both look the run up, both create it, and both append
the console spool. An advisory ``flock`` on ``sync/<sink>.lock`` serializes
them. The holder writes its pid into the file so the other one can name it.

The lock dies with its process (kill -9 included), so it never goes stale.
Where the filesystem refuses flock (some NFS mounts), syncing goes on
without it rather than not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from schema.layout import SYNC_DIR
from syncer.engine.checkpoint import sink_file_name


class RunLock:
    """``sync/<sink>.lock`` of one run; ``acquire()`` never blocks."""

    def __init__(self, run_dir: str | os.PathLike[str], sink_name: str):
        self.path = Path(run_dir) / SYNC_DIR / f"{sink_file_name(sink_name)}.lock"
        self._fd = -1

    def acquire(self) -> bool:
        """True when this process now holds the lock (or flock is unsupported here)."""
        if self._fd >= 0:
            return True
        try:
            self.path.parent.mkdir(exist_ok=True)
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
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def holder(self) -> int | None:
        """The pid written by the process holding the lock, when readable."""
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def busy_reason(self) -> str:
        pid = self.holder()
        who = f"process {pid}" if pid else "another process"
        return (
            f"busy: {who} is syncing this run to this server (a `runwal follow` started by "
            f"the SDK retries until the run is delivered; stop it with `kill {pid or 'PID'}` "
            "to sync now)"
        )

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
