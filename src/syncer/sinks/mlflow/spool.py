"""``sync/<sink>.output.log``: the console text of a run, kept for the ``output.log`` artifact.

Console records are appended here as their batch is sent, and the whole file
is uploaded at the end of a pass (a PUT overwrites, so that is idempotent).
Its length is checkpointed (``MapState.console_bytes``): on open the file is
cut back to that length, so a crash after an append never doubles text.

sync/ is the syncer's own, yet a run dir may come from anywhere: the spool is
opened with ``O_NOFOLLOW``, and a link (or anything not a regular file) found
at its name is removed, never truncated or uploaded through.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO

from schema.atomic import make_dirs, write_all
from syncer.sinks.mlflow.mapping import MapState

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


class Spool:
    """The spool file at ``path``, in step with ``state``'s console counters."""

    def __init__(self, path: Path, state: MapState):
        self.path = path
        self.state = state
        make_dirs(path.parent, parents=False)  # sync/, durably: checkpoints live there
        size = self._size()
        if size > state.console_bytes:
            fd = os.open(path, os.O_WRONLY | _NOFOLLOW)
            try:
                os.ftruncate(fd, state.console_bytes)
            finally:
                os.close(fd)
        elif size < state.console_bytes:
            # The spool was lost; keep counting from what exists.
            state.console_bytes = state.console_uploaded = size

    def _size(self) -> int:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return 0
        if not stat.S_ISREG(st.st_mode):
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # a planted link or fifo: not ours, never followed
            return 0
        return st.st_size

    def append(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        self.state.console_bytes += len(data)

    @property
    def pending(self) -> bool:
        """Text appended since the last acknowledged upload."""
        return self.state.console_bytes > self.state.console_uploaded

    def open(self) -> IO[bytes]:
        """The spool for reading (one upload attempt)."""
        return os.fdopen(os.open(self.path, os.O_RDONLY | _NOFOLLOW), "rb")

    def uploaded(self) -> None:
        self.state.console_uploaded = self.state.console_bytes
