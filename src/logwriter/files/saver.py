"""The file saver's thread (``runwal-files-<id>``): slow file work off the caller.

The saver (save.py) hands it two kinds of work: jobs (the sha256 of a
``now`` snapshot, whose FILE record is queued once the hash is known) and a
tick, every LIVE_CHECK_S seconds and after each batch of jobs, that
re-snapshots the ``live`` files whose mtime or size changed. Never on the
writer thread, whose every stalled moment would hold back log() (see
wal/backlog.py), and never twice on the caller: saving a large checkpoint costs
the training loop a link or a copy, not a hash.

The thread is started by the first job (or the first ``live`` file), so a run
that saves nothing starts none. ``stop()`` (finish()) lets it run the jobs
queued and returns once it is gone or after a bounded join (``alive()``
says which); ``detach()`` (a
forked child, where the thread did not survive) forgets it and its jobs. A
job that fails is counted by the saver, never raised: a bug in one must not
kill the thread and with it every later hash.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

LIVE_CHECK_S = 2.0
Job = Callable[[], None]


class SaverThread:
    """Jobs in order, plus ``tick()`` between batches, on one daemon thread."""

    def __init__(self, name: str, tick: Callable[[], None],
                 failed: Callable[[str, OSError], object]) -> None:
        self._name = name
        self._tick = tick
        self._failed = failed
        self._jobs: deque[Job] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, job: Job | None) -> None:
        """Queue ``job`` (None: only make sure the thread runs, and ticks)."""
        if job is not None:
            self._jobs.append(job)
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
            self._thread.start()
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """Run the queued jobs and stop, waiting up to ``timeout`` seconds."""
        thread = self._thread
        if thread is not None:
            self._stopping = True
            self._wake.set()
            thread.join(timeout)

    def alive(self) -> bool:
        """Still running: not stopped yet, or stuck past stop()'s timeout."""
        return self._thread is not None and self._thread.is_alive()

    def detach(self) -> None:
        """In a forked child: the thread did not survive; forget it and its jobs."""
        self._thread = None
        self._jobs.clear()

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
            self._tick()
