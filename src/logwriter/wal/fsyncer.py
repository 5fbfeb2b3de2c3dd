"""fsync on its own thread, so that a slow fsync never holds back the writes.

Two different promises hang on the writer: a ``kill -9`` loses what is not yet
*written* (in the kernel's page cache a killed process's bytes are safe), a
power cut loses what is not yet *fsynced*. The first must stay within one
flush interval whatever the disk does (see backlog.py), but one fsync on a
busy NFS or Lustre mount takes hundreds of milliseconds: done on the writer
thread it would stall every write behind it, and with them the training loop.
So the writer thread only ``pwrite``s and asks this thread for an fsync at
most once per flush interval (``fsync="commit"``); a power cut loses at most
about two flush intervals plus the fsync in flight.

``lock`` is held for the length of each fdatasync: the Appender takes it
(``forget``) before it closes or replaces the fd, so an fd is never fsynced
after it was closed and reused for another file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

OnError = Callable[[str, OSError], None]
STOP_TIMEOUT = 5.0


def datasync(fd: int) -> None:
    os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)


class FsyncThread:
    """fdatasync requests for one fd at a time, coalesced, served by one daemon thread."""

    def __init__(self, on_error: OnError, name: str) -> None:
        self.lock = threading.Lock()
        self.synced = 0
        self._fd = -1
        self._on_error = on_error
        self._want = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def request(self, fd: int) -> None:
        """fsync ``fd`` soon; requests made while one is in flight are coalesced."""
        self._fd = fd
        self._want.set()

    def forget(self, fd: int) -> None:
        """``fd`` is about to be closed: wait for an fsync of it in flight, drop requests."""
        with self.lock:
            if self._fd == fd:
                self._fd = -1

    def stop(self) -> None:
        self._stopping = True
        self._want.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(STOP_TIMEOUT)

    def _main(self) -> None:
        while True:
            self._want.wait()
            self._want.clear()
            if self._stopping:
                return
            with self.lock:
                fd = self._fd
                if fd < 0:
                    continue
                try:
                    datasync(fd)
                except OSError as exc:
                    self._on_error("fsync", exc)
                    continue
                self.synced += 1
