"""Glue to the optional run helpers: metadata, system monitor, console capture.

Those modules (metadata.py, monitor.py, console.py) are imported lazily, so a
missing or broken helper costs that feature, never the run: the RUN record
falls back to basic host/process facts, and no STATS or CONSOLE records are
written.

``ConsoleBuffer`` coalesces the many tiny writes that ``print`` makes into
CONSOLE records of up to ``MAX_CHUNK`` characters per stream, once per flush
interval on the writer thread, so printing costs a deque append.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from schema.records import RecordType

MAX_CHUNK = 64 * 1024
_CONSOLE = int(RecordType.CONSOLE)


def basic_metadata(settings: dict[str, Any]) -> dict[str, Any]:
    """Facts that cost no subprocess: used when metadata.collect is unavailable."""
    import getpass  # imported here, on the writer thread, not in the user's import
    import platform
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = None
    return {
        "host": socket.gethostname(),
        "user": user,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
    }


def run_metadata(settings: dict[str, Any]) -> dict[str, Any]:
    """Body of the RUN record; evaluated on the writer thread (git can be slow)."""
    body: dict[str, Any] = {
        k: settings.get(k)
        for k in ("run_id", "project", "name", "mode", "tags", "notes", "group", "job_type")
    }
    body["started"] = time.time()
    try:
        metadata = importlib.import_module("logwriter.metadata")
        extra = metadata.collect(settings)
    except Exception:  # ImportError or a helper bug: fall back
        extra = basic_metadata(settings)
    if isinstance(extra, dict):
        for key, value in extra.items():
            body.setdefault(str(key), value)
    return body


def start_monitor(emit: Callable[[dict[str, float]], None], interval: float,
                  disk_path: str) -> Any:
    """A started SystemMonitor, or None when the monitor module is unavailable."""
    try:
        from logwriter.monitor import SystemMonitor

        mon = SystemMonitor(emit, interval, disk_path=disk_path)
        mon.start()
    except Exception:  # stats are optional
        return None
    return mon


def start_console(emit: Callable[[str, str], None]) -> Any:
    """A started ConsoleCapture, or None when the console module is unavailable."""
    try:
        from logwriter.console import ConsoleCapture

        cap = ConsoleCapture(emit)
        cap.start()
    except Exception:  # console capture is optional
        return None
    return cap


class ConsoleBuffer:
    """Collects (stream, text) writes; ``drain`` turns them into CONSOLE records."""

    def __init__(self, put: Callable[..., Any]) -> None:
        self._put = put
        self._chunks: deque[tuple[str, str, float]] = deque()
        self._lock = threading.Lock()

    def add(self, stream: str, text: str) -> None:
        if not text:
            return
        now = time.time()
        for i in range(0, len(text), MAX_CHUNK):
            self._chunks.append((stream, text[i : i + MAX_CHUNK], now))

    def drain_nowait(self) -> None:
        """Writer-thread variant: never blocks on a full queue."""
        self.drain(block=False)

    def drain(self, block: bool = True) -> None:
        with self._lock:
            chunks = self._chunks
            stream: str | None = None
            parts: list[str] = []
            size = 0
            ts = 0.0
            while chunks:
                name, text, when = chunks.popleft()
                if parts and (name != stream or size + len(text) > MAX_CHUNK):
                    self._put(_CONSOLE, ts, {"stream": stream, "text": "".join(parts)},
                              block=block)
                    parts, size = [], 0
                if not parts:
                    stream, ts = name, when
                parts.append(text)
                size += len(text)
            if parts:
                self._put(_CONSOLE, ts, {"stream": stream, "text": "".join(parts)}, block=block)
