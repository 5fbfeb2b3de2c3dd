"""From a tracking URI to synced runs: the pieces `runwal sync` and `runwal syncd` share.

Both commands resolve the server the same way (``--to``, then
``RUNWAL_SERVER``, then ``MLFLOW_TRACKING_URI``), talk to it through one
keep-alive client shared by all their workers (credentials from the
environment, see `syncer.sinks.mlflow.rest`), and run the same unit of work: one
pass of the replay engine over one run directory with a sink of its own. They
differ only in *when* they run passes (once per run vs. whenever a run
changes) and in how long one request may be retried before a pass gives up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from schema import uri as tracking_uri
from schema.errors import BadTrackingUri
from schema.layout import is_run_dir
from schema.uri import public_uri
from syncer.engine.replay import SyncResult, sync_run
from syncer.engine.runlock import RunLock
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.retry import RetryPolicy
from syncer.sinks.mlflow.sink import MlflowSink
from syncer.sync_errors import NoServerConfigured, ServerUnavailable

PER_RUN_REQUESTS = 4  # metric requests one run sends in parallel (the server's ingest ceiling)


def server_uri(to: str | None) -> str:
    """--to, else RUNWAL_SERVER, else MLFLOW_TRACKING_URI; NoServerConfigured if none."""
    uri = tracking_uri.resolve(to)
    if not uri:
        raise NoServerConfigured("no tracking server given")
    try:
        return tracking_uri.check(uri)
    except BadTrackingUri as exc:
        raise NoServerConfigured(exc.args[0], hint=exc.hint) from None


@contextlib.contextmanager
def open_server(
    uri: str,
    *,
    workers: int,
    connect_timeout: float,
    deadline: float,
    stop: threading.Event | None = None,
) -> Iterator[MlflowRest]:
    """One MlflowRest over a client sized for ``workers`` runs syncing at once.

    ``deadline`` bounds how long one failing request is retried; ``stop`` ends
    a retry sleep at once (SIGTERM), failing the pass as "server unavailable".
    """
    size = max(4, workers * PER_RUN_REQUESTS)
    with build_client(connect_timeout=connect_timeout, max_connections=size) as http:
        yield MlflowRest(uri, http, retry=RetryPolicy(deadline=deadline), stop=stop)


def check_server(rest: MlflowRest, timeout: float) -> None:
    """Ping once; ServerUnavailable naming the server when it does not answer
    (AuthFailed when it answers 401/403)."""
    try:
        rest.ping(deadline=timeout)
    except ServerUnavailable as exc:
        raise ServerUnavailable(
            f"cannot reach the MLflow server at {public_uri(rest.uri)}: {exc.args[0]}"
        ) from exc


def not_a_run(path: Path) -> SyncResult:
    return SyncResult(
        run_dir=str(path),
        run_id=path.name,
        status="failed",
        reason="not a run directory (no run.json, no log/)",
    )


def sync_path(
    path: Path,
    rest: MlflowRest,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[SyncResult], None] | None = None,
    artifacts: str = "flush",
) -> SyncResult:
    """One pass over ``path`` with a sink of its own (closed afterwards); never raises
    for a bad run or an unreachable server, the result says so. A run another
    process is syncing to the same server (sync/<sink>.lock) is skipped as busy.
    ``artifacts`` (see `sync_run`): "flush" by default, so a one-shot sync also
    uploads a console log an earlier syncd pass deferred."""
    if not path.is_dir() or not is_run_dir(path):
        return not_a_run(path)
    sink = MlflowSink(rest, parallel=PER_RUN_REQUESTS)
    lock = RunLock(path, sink.name)
    try:
        if not lock.acquire():  # a `runwal follow` (or another sync) is on it
            return SyncResult(run_dir=str(path), run_id=path.name, status="skipped",
                              reason=lock.busy_reason(), busy=True)
        return sync_run(path, sink, stop=stop, progress=progress, artifacts=artifacts)
    finally:
        lock.release()
        sink.close()
