"""The unit of sync work: one pass over one run directory, under its lock.

`runwal sync` runs it once per run, `runwal syncd` whenever a run changed;
both hand it a `Destination` (one server shared by all their workers, see
`syncer.sinks.mlflow.connect`), from which it makes a sink of the pass's own,
so nothing here knows which server product is on the other end.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from schema.layout import is_run_dir
from syncer.engine.replay import sync_run
from syncer.engine.result import SyncResult, not_a_run
from syncer.engine.synclock import SyncLock
from syncer.sinks.base import Destination


def sync_path(
    path: Path,
    dest: Destination,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[SyncResult], None] | None = None,
    artifacts: str = "flush",
) -> SyncResult:
    """One pass over ``path`` with a sink of its own (closed afterwards); never raises
    for a bad run or an unreachable server, the result says so. A run another
    process is syncing to the same server (sync/<sink>.lock) is skipped as busy.
    ``artifacts`` (see `sync_run`): "flush" by default, so a one-shot sync also
    uploads a console log an earlier syncd pass deferred.

    A pass that raises anyway (a bug meeting a run dir nobody foresaw) is a failed
    result naming the exception and where it was raised, so one strange run never
    costs the other runs of a `runwal sync` their sync."""
    if not path.is_dir() or not is_run_dir(path):
        return not_a_run(path)
    lock = SyncLock(path, dest.sink_name)
    if not lock.acquire():  # a `runwal follow` (or another sync) is on it
        return SyncResult(run_dir=str(path), run_id=path.name, status="skipped",
                          reason=lock.busy_reason(), busy=True)
    try:
        sink = dest.new_sink()
        try:
            return sync_run(path, sink, stop=stop, progress=progress, artifacts=artifacts)
        finally:
            sink.close()
    except Exception as exc:  # a bug: report it with the run, the batch goes on
        return internal_error(path, exc)
    finally:
        lock.release()


def internal_error(path: Path, exc: Exception) -> SyncResult:
    """The failed result of a pass that raised: one reason line, where in a note."""
    res = SyncResult(run_dir=str(path), run_id=path.name, status="failed",
                     reason=f"internal error (please report it): {type(exc).__name__}: {exc}"[:500])
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        res.notes.append(f"at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}")
    return res
