"""One writer per run directory: an ``flock`` on ``<run>/log/writer.lock``.

A run's seqs are dense and ordered across its segments, and a new process
continues a run at one past the last record on disk. Two processes writing
one run at once (two ``init(id=SAME, resume="allow")``, DDP ranks or spawned
workers given the same id) would both start at the same seq: one would move
the other's fresh segment aside and its records would vanish. So the process
that writes a run holds an exclusive lock on this file from before it reads
the log to after its EXIT record is fsynced, and a second one gets a clear
``RunDirError`` from ``init()``, before it logged anything, naming the
process that holds the run.

Processes that log together either share a run, each writing a stream of its
own (``init(shared=True)``: ``<run>/streams/<label>/log/writer.lock`` is that
stream's lock, so two processes claiming one label get the same clear error),
or each get their own run (``id=f"{base}-rank{r}", group=base``, see
examples/ranks.py). A forked child inherits the parent's run but never writes
it (session/exithooks.py detaches it; its ``init()`` of another run works as anywhere).

The kernel drops the lock when the holder dies, ``kill -9`` included, so a
crashed run is resumable at once; the file itself stays (it says who held it
last, for the message) and readers ignore it (it is no segment). Filesystems
without ``flock`` (some NFS or Lustre mounts) make ``acquire`` return None:
the run then goes on without the guard, as before it existed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path

from logwriter.errors import RunDirError
from schema.layout import WRITER_LOCK

LOCK_NAME = WRITER_LOCK
LOCK_WAIT = 1.0  # a run that is finishing releases it within moments
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class WriterLock:
    """The held lock: an open fd with ``LOCK_EX`` on it."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def acquire(cls, log_dir: Path, run_id: str, wait: float = LOCK_WAIT,
                label: str | None = None) -> WriterLock | None:
        """Take the run's lock (a shared run's: this stream's, ``label``); RunDirError
        when another process holds it after ``wait`` seconds; None when this
        filesystem has no flock."""
        import fcntl  # POSIX only, and only init() needs it

        path = log_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(f"runwal: cannot open {path}: {exc}") from exc
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno in _UNSUPPORTED:
                    os.close(fd)
                    return None
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) or \
                        time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise _busy(run_id, log_dir.parent, holder, label) from None
                time.sleep(0.05)
        with contextlib.suppress(OSError):  # who holds it, for the next one's message
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} host {os.uname().nodename} since "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the last fd of the open file drops the lock

    def forget(self) -> None:
        """In a forked child: close this copy (the parent's fd keeps the lock)."""
        self.release()


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text:
            return text
    return "another process"


def _busy(run_id: str, run_dir: Path, holder: str, label: str | None) -> RunDirError:
    if label is not None:
        return RunDirError(
            f"runwal: stream {label!r} of shared run {run_id} is being written by {holder}; "
            "two processes of the job claim the same label",
            hint="give each process its own label= (the default is rank_<RANK> from the "
                 "launcher's environment), and one primary")
    return RunDirError(
        f"runwal: run {run_id} in {run_dir} is being written by {holder}; a run has one "
        "writing process at a time, so this one cannot log to it",
        hint=(f"for one run across the processes of a job, init(id='{run_id}', shared=True) "
              f"in each (README, Distributed training); or give each its own run, "
              f"init(id=f'{run_id}-rank{{rank}}', group='{run_id}'); or resume it once "
              "that process has finished"),
    )
