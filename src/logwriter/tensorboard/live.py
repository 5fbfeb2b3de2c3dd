"""``init(sync_tensorboard=True)``: the event files this process writes, logged into its run.

How the files are found: by patching the one class both writers create their
files with, ``EventFileWriter`` (``tensorboardX.event_file_writer`` for
tensorboardX, ``tensorboard.summary.writer.event_file_writer`` for
torch.utils.tensorboard and tensorboard's own writer), as
``wandb.tensorboard.patch`` does: at init if the module is imported already,
else the moment it is (a ``sys.meta_path`` finder that wraps that one
module's loader, nothing else). Each writer made then reports its logdir.
Not by watching the working directory: walking a repository and its data
dirs every second costs more than training should pay, and files written
elsewhere (``/scratch/tb``) would be missed. TensorFlow's own writer
(``tf.summary.create_file_writer``, C++) is not seen this way: import its
logdir afterwards with ``runwal import tensorboard``.

What is read: every event file in a reported logdir, from where the last
read stopped, about every second on a thread the run owns
(``runwal-tensorboard-<id>``), mapped by records.py (scalars -> history at
their step, text -> console, images and histograms -> media, hparams ->
config; ``ts`` is the event's wall time). ``stop()`` (the run's finish)
flushes the writers this run saw (a SummaryWriter keeps up to 120 s of
events in memory), stops the thread and reads once more, so nothing written
before finish() is lost, whether the script closed its writers or not; then
each tag's last scalar goes into the summary (as wandb's has them).

Tag names: the first logdir's tags as written; a later logdir's under its
path relative to the first one's parent (``runs/exp/train`` then
``runs/exp/val``: ``loss`` and ``val/loss``), decided once per logdir so a
series never changes name; ``add_hparams()``'s child logdirs (named by the
time, inside a known logdir) as written, their hparams going to config.
wandb prefixes in the same way when there are several logdirs.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from logwriter.tensorboard.events import is_event_file, is_hparams_dir, read_events
from logwriter.tensorboard.records import ToRecords
from schema.records import RecordType

POLL_S = 1.0
STOP_TIMEOUT = 10.0
WRITER_MODULES = ("tensorboardX.event_file_writer",
                  "tensorboard.summary.writer.event_file_writer")

_lock = threading.Lock()
_current: TensorBoardTail | None = None  # the run that gets the logdirs reported


def start(run_dir: str, put: Callable[..., Any], run_id: str,
          poll: float = POLL_S) -> TensorBoardTail | None:
    """Start reading the event files of this process into the run (session/backend.py's
    start_watchers calls it). Without tensorboardX or tensorboard (the
    ``tensorboard`` extra): one RunwalWarning, and the run goes on without."""
    global _current
    from logwriter.tensorboard.events import messages

    try:
        messages()
    except ImportError as exc:
        from logwriter.errors import RunwalWarning

        warnings.warn(f"{exc}; sync_tensorboard=True records nothing", RunwalWarning,
                      stacklevel=4)
        return None
    tail = TensorBoardTail(run_dir, put, run_id, poll)
    with _lock:
        _current = tail
    _patch_writers()
    tail.start()
    return tail


class TensorBoardTail:
    """The reading thread of one run, and the logdirs reported to it."""

    def __init__(self, run_dir: str, put: Callable[..., Any], run_id: str,
                 poll: float = POLL_S) -> None:
        self.files_dir = os.path.join(run_dir, "files")
        self.put = put
        self.poll = poll
        self.logdirs: dict[str, ToRecords] = {}
        self.offsets: dict[str, int] = {}
        self.damage: list[str] = []
        self._writers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"runwal-tensorboard-{run_id}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add_logdir(self, logdir: str, writer: Any = None) -> None:
        """A writer made its file in ``logdir`` (called from the patched writers)."""
        path = os.path.abspath(os.fspath(logdir))
        with self._lock:
            if writer is not None:
                with contextlib.suppress(TypeError):
                    self._writers.add(writer)
            if path not in self.logdirs:
                self.logdirs[path] = ToRecords(self.put, self.files_dir,
                                               prefix=self._prefix(path))

    def _prefix(self, path: str) -> str:
        if not self.logdirs:
            return ""
        first = next(iter(self.logdirs))
        parent, name = os.path.split(path)
        if parent in self.logdirs and is_hparams_dir(name):
            return ""  # add_hparams()'s child run
        rel = os.path.relpath(path, os.path.dirname(first))
        return rel.replace(os.sep, "/") + "/"

    def _main(self) -> None:
        while not self._stop.wait(self.poll):
            self.read()

    def read(self) -> None:
        """Read what every known event file gained since the last read."""
        with self._read_lock:
            with self._lock:
                dirs = list(self.logdirs.items())
            for logdir, conv in dirs:
                try:
                    names = sorted(n for n in os.listdir(logdir) if is_event_file(n))
                except OSError:
                    continue
                for name in names:
                    self._read_file(os.path.join(logdir, name), conv)

    def _read_file(self, path: str, conv: ToRecords) -> None:
        offset = self.offsets.get(path, 0)
        try:
            if os.path.getsize(path) <= offset:
                return
            r = read_events(path, offset)
        except (OSError, ImportError):
            return
        self.offsets[path] = r.offset
        self.damage += [d.describe() for d in r.damage]
        with contextlib.suppress(Exception):  # a full disk for images: the scalars go on
            conv.add(r.items)

    def stop(self) -> None:
        """The run's finish: flush the writers, stop the thread, read once more."""
        global _current
        with _lock:
            if _current is self:
                _current = None
        with self._lock:
            writers = list(self._writers)
        for w in writers:
            with contextlib.suppress(Exception):  # closed already, or broken: read what is there
                _drain(w)
                w.flush()
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(STOP_TIMEOUT)
        self.read()
        last: dict[str, Any] = {}
        with self._lock:
            for conv in self.logdirs.values():
                last.update(conv.last)
        if last:  # each tag's last scalar, as wandb's summary has them
            self.put(int(RecordType.SUMMARY), time.time(), last)


def _drain(writer: Any, timeout: float = 2.0) -> None:
    """Wait until tensorboardX's writer thread took every queued event: its flush()
    writes only what that thread already took from its queue (tensorboard's own
    writer waits for its queue in flush())."""
    q = getattr(writer, "_event_queue", None)
    if q is None or not hasattr(q, "empty"):
        return
    deadline = time.monotonic() + timeout
    while not q.empty() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the event it took last is being written, under the lock flush() takes


def _seen(logdir: Any, writer: Any) -> None:
    tail = _current
    if tail is not None:
        with contextlib.suppress(Exception):  # never break the user's SummaryWriter
            tail.add_logdir(logdir, writer)


def _patch(module: ModuleType) -> None:
    cls = getattr(module, "EventFileWriter", None)
    if cls is None or getattr(cls, "_runwal_patched", False):
        return
    original = cls.__init__

    def __init__(self: Any, logdir: Any, *args: Any, **kwargs: Any) -> None:
        original(self, logdir, *args, **kwargs)
        _seen(logdir, self)

    cls.__init__ = __init__
    cls._runwal_patched = True


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then patches the module it made."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _patch(module)


class _WriterFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of the two writer modules when imported."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in WRITER_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


_finder = _WriterFinder()


def _patch_writers() -> None:
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
    for name in WRITER_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            _patch(module)
