"""Console capture: tee ``sys.stdout``/``sys.stderr`` into the run's log.

:class:`ConsoleCapture` replaces ``sys.stdout`` and ``sys.stderr`` with thin
wrappers. Each ``write(text)`` goes to the original stream first, unchanged
and at once (the user sees exactly what they saw before, with the same
buffering, ``isatty()``, ``encoding``, ``fileno()`` and every other attribute,
which the wrapper forwards), and then the same text is handed to
``emit(stream_name, text)``. ``emit`` gets the raw text of every write
(``print("a", "b")`` is several writes), so the per-write cost here is one
write-through plus one call. :class:`ConsoleBuffer` is the Run's ``emit``: a
deque append per write; on the writer thread, once per flush interval, it
coalesces the many tiny writes ``print`` makes into CONSOLE records of up to
``MAX_CHUNK`` characters per stream.

Safety, because this sits under every ``print`` of a training job:

* Re-entrancy: if ``emit`` prints, warns or logs to stderr, that output goes to
  the terminal but is not captured again (a thread-local flag), so there is no
  recursion.
* ``emit`` raising never reaches the user's ``print``: the error is counted in
  :attr:`ConsoleCapture.errors`. Errors of the *original* stream (a closed
  pipe) do propagate, exactly as they would without capture.
* Forked children (DataLoader workers, ``multiprocessing`` with fork) inherit
  the wrappers but only pass through: their writes are not emitted, since the
  parent's writer thread does not exist in the child.
* ``stop()`` puts the originals back only if ``sys.stdout``/``sys.stderr`` are
  still our wrappers. If something wrapped them again on top of ours, the
  wrapper stays in that chain as a plain pass-through.

Limitations (documented for users):

* Output written straight to file descriptors 1/2, by C/C++ extensions, CUDA,
  NCCL, ``os.write(1, ...)`` or child processes started with ``subprocess``, is
  not captured: only writes that go through the Python ``sys.stdout`` /
  ``sys.stderr`` objects are. Capturing fds would need a pipe and a pump
  thread per stream, which changes buffering and isatty for the user.
* Bytes written to ``sys.stdout.buffer`` (binary writes under the text layer)
  go to the original buffer and are not captured.
* Objects that grabbed the stream before ``start()`` keep writing to the
  original: e.g. a ``logging.StreamHandler`` created by ``logging.basicConfig()``
  before the run started. Start the run before configuring logging to capture
  log lines too.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from logwriter.values.text import clean_text
from schema.records import RecordType

MAX_CHUNK = 64 * 1024
MAX_BUFFER = 8 * 1024 * 1024  # characters held between two drains; past it, writes are dropped
_CONSOLE = int(RecordType.CONSOLE)

# Bumped in every forked child, so a capture started in the parent can tell
# cheaply (no getpid() syscall per write) that it is running in a copy.
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: write through, then emit.

    Not an ``io.TextIOBase`` subclass on purpose: that base class defines
    ``isatty``, ``fileno``, ``encoding`` ... itself, which would hide the
    original's answers. Every attribute not defined here is the original's.
    """

    def __init__(self, capture: ConsoleCapture, name: str, original: TextIO) -> None:
        self._capture = capture
        self._name = name
        self._original = original

    def write(self, text: str) -> int:
        n = self._original.write(text)
        if text and type(text) is str:
            self._capture._deliver(self._name, text)
        return n

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on the wrapper: encoding, errors,
        # buffer, isatty, fileno, line_buffering, reconfigure, closed, ...
        if name.startswith("__") or name in ("_original", "_capture", "_name"):
            raise AttributeError(name)  # copy/pickle probing a half-built wrapper
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return f"<runwal tee of {self._original!r}>"


class ConsoleCapture:
    """Tees the Python-level stdout and stderr into ``emit(stream, text)``.

    Args:
        emit: called as ``emit("stdout" | "stderr", text)`` for every write, on
            the thread that wrote. It should only enqueue; it must be
            thread-safe, because any thread may print.
    """

    def __init__(self, emit: Callable[[str, str], None]) -> None:
        self._emit = emit
        self._local = threading.local()
        self._lock = threading.Lock()
        self._active = False
        self._generation = _fork_generation
        self._tees: dict[str, _Tee] = {}
        self.errors = 0
        """How many times ``emit`` raised (the text of those writes is not captured)."""

    @property
    def active(self) -> bool:
        """True between start() and stop() in the process that called start()."""
        return self._active and self._generation == _fork_generation

    def start(self) -> None:
        """Install the wrappers; a no-op if already started. A ``None`` stream is left alone."""
        with self._lock:
            if self._active:
                return
            self._generation = _fork_generation
            self._tees = {}
            for name in ("stdout", "stderr"):
                original = getattr(sys, name)
                if original is None:  # pythonw, some daemons: nothing to tee
                    continue
                tee = _Tee(self, name, original)
                self._tees[name] = tee
                setattr(sys, name, tee)
            self._active = True

    def stop(self) -> None:
        """Stop emitting and restore the originals that are still ours. Idempotent."""
        with self._lock:
            self._active = False
            for name, tee in self._tees.items():
                if getattr(sys, name) is tee:
                    setattr(sys, name, tee._original)
            self._tees = {}

    def _deliver(self, name: str, text: str) -> None:
        if not self._active or self._generation != _fork_generation:
            return
        local = self._local
        if getattr(local, "busy", False):
            return  # emit itself printed: show it, do not capture it again
        local.busy = True
        try:
            self._emit(name, text)
        except Exception:
            self.errors += 1
        finally:
            local.busy = False


class ConsoleBuffer:
    """Collects (stream, text) writes; ``drain`` turns them into CONSOLE records.

    Bounded: while the writer is stuck (it drains this buffer), at most
    ``MAX_BUFFER`` characters wait here; later writes still reach the terminal
    but are not recorded, and ``dropped`` counts them. Text that is no valid
    UTF-8 (a ``surrogateescape`` stream) is recorded with the bad bytes escaped
    (text.clean_text), so it never costs the lines coalesced with it.

    Args:
        put: the writer's ``put(rtype, ts, body, block=...)``.
    """

    def __init__(self, put: Callable[..., Any]) -> None:
        self._put = put
        self._chunks: deque[tuple[str, str, float]] = deque()
        self._lock = threading.Lock()
        self._held = 0  # characters in _chunks (approximate: no lock on add)
        self.dropped = 0

    def add(self, stream: str, text: str) -> None:
        if not text:
            return
        if self._held + len(text) > MAX_BUFFER:
            self.dropped += 1
            return
        self._held += len(text)
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
                self._held -= len(text)
                if parts and (name != stream or size + len(text) > MAX_CHUNK):
                    self._put(_CONSOLE, ts, {"stream": stream,
                                             "text": clean_text("".join(parts))}, block=block)
                    parts, size = [], 0
                if not parts:
                    stream, ts = name, when
                parts.append(text)
                size += len(text)
            if parts:
                self._put(_CONSOLE, ts, {"stream": stream, "text": clean_text("".join(parts))},
                          block=block)
            self._held = 0  # drained: forget any drift of the unlocked count
