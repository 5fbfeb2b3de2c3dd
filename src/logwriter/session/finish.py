"""How a run ends: the order finish() stops things in, and where its problems go.

(Not ``finish.py``: ``logwriter.finish`` is the facade's function, which a
submodule of that name would shadow.)

The Run (run.py) marks itself finished under its lock, takes itself
off the process hooks, releases watch(model)'s hooks, tells the facade and
commits the pending row; then ``stop()`` here, in this order:

1. the media worker drains (bounded: rich.py), so its MEDIA records are
   queued before the EXIT;
2. ``backend.stop_capture()``: console capture, the monitor, TensorBoard and
   the file saver stop and hand over what they hold (``end`` and ``live``
   files, the files the script wrote into ``run.dir``; files/save.py);
3. the summary's last delta (SUMMARY) and the EXIT record: code, status and
   the runtime measured now, after the saver's last copies;
4. ``backend.close_writer()``: drain, fsync, close, release the run lock
   (bounded: a writer stuck on a dead disk is left behind);
5. ``backend.finish_sync()``: online/hybrid runs wait, bounded, for the
   follower to deliver the EXIT.

Every problem on the way is one line, never an exception (nothing the server
or the disk does makes finish() raise): a warning of its category to the
caller of finish() or ``with``'s exit, or, when ``quiet`` (finish_at_exit: the
process is ending and the code that would see a warning is gone), a line on
stderr.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

from logwriter.errors import FinishTimeoutWarning, RunwalWarning, SaveWarning, SyncWarning
from logwriter.session.backend import Backend, say
from logwriter.session.rich import RunMedia
from logwriter.values.summary import Summary
from logwriter.wal.writer import Writer
from schema.records import RecordType


def stop(backend: Backend, writer: Writer, media: RunMedia, summary: Summary, *,
         code: int, status: Callable[[], str], t0: float, timeout: float, quiet: bool,
         sync_wait: float | None) -> None:
    """Steps 1 to 5 above. ``status()`` is asked when the EXIT is written (a
    mark_preempting() may come meanwhile); ``t0`` is the run's time.monotonic() start."""
    report(media.close(timeout), FinishTimeoutWarning, quiet)
    report(backend.stop_capture(), SaveWarning, quiet)
    now = time.time()
    delta = summary.delta()
    if delta:
        writer.put(int(RecordType.SUMMARY), now, delta)
    writer.put(int(RecordType.EXIT), now, {
        "code": int(code), "status": status(), "runtime": round(time.monotonic() - t0, 6),
    })
    report(backend.close_writer(timeout), FinishTimeoutWarning, quiet)
    report(backend.finish_sync(sync_wait), SyncWarning, quiet)


def report(problem: str | None, category: type[RunwalWarning], quiet: bool) -> None:
    """A problem of finish(): a warning to the caller of finish() or __exit__, or a
    line on stderr when there is no caller left (finish_at_exit)."""
    if problem is None:
        return
    if quiet:
        say(problem)
    else:
        # report, stop, Run._finish, Run.finish (or __exit__): the caller's line
        warnings.warn(problem, category, stacklevel=5)
