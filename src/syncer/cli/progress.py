"""The progress line of the batch commands (``runwal sync``, ``runwal import``) on stderr.

On a terminal: one line redrawn at most 5 times a second, ``<verb> done/total runs
N points R points/s``, ended by a newline at `Progress.close`. Otherwise a line
per finished run, ``[done/total] name: status N points S.Ss``, so logs stay
readable. ``quiet`` (``--json`` with stderr not a terminal) prints nothing.
Thread-safe: ``runwal sync`` reports from its worker threads.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO


class Progress:
    """Runs done / total and points/s, counted from point deltas."""

    def __init__(self, verb: str, total: int, stream: IO[str] | None = None,
                 quiet: bool = False):
        self.verb = verb
        self.total, self.done, self.points = total, 0, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._last = 0.0

    def advance(self, points: int) -> None:
        """``points`` more points sent or read (redrawn on a terminal, rate-limited)."""
        with self._lock:
            self.points += points
            if self.tty and not self.quiet and time.monotonic() - self._last > 0.2:
                self._draw()

    def run_done(self, name: str, status: str, points: int, seconds: float,
                 more_points: int = 0) -> None:
        """One run finished with ``points`` in all, ``more_points`` of them not yet
        counted by `advance`."""
        with self._lock:
            self.done += 1
            self.points += more_points
            if self.quiet:
                return
            if self.tty:
                self._draw()
                return
            self.stream.write(f"[{self.done}/{self.total}] {name}: {status} {points} points "
                              f"{seconds:.1f}s\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        self._last = time.monotonic()
        rate = self.points / max(1e-6, self._last - self.t0)
        self.stream.write(f"\r{self.verb} {self.done}/{self.total} runs  {self.points:,} points  "
                          f"{rate:,.0f} points/s ")
        self.stream.flush()
