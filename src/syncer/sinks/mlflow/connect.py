"""From a tracking URI to MLflow sinks: the composition `sync`, `syncd` and `follow` share.

All three commands resolve the server the same way (``--to``, then
``RUNWAL_SERVER``, then ``MLFLOW_TRACKING_URI``: `schema.uri`, the rule the
SDK uses too), talk to it through one keep-alive client shared by all their
workers (credentials from the environment, see `syncer.sinks.mlflow.rest`),
and make one `MlflowSink` per run from the `MlflowServer` that `open_server`
yields (a `syncer.sinks.base.Destination`). They differ only in *when* they
run passes and in how long one request may be retried before a pass gives up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from schema import uri as tracking_uri
from schema.errors import BadTrackingUri
from schema.uri import public_uri
from syncer.errors import NoServerConfigured, ServerUnavailable
from syncer.sinks.mlflow.knownruns import KnownRuns
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.retry import RetryPolicy
from syncer.sinks.mlflow.sink import MlflowSink, sink_name_for

PER_RUN_REQUESTS = 4  # metric requests one run sends in parallel (the server's ingest ceiling)


def run_url(uri: str, experiment_id: str, server_run_id: str) -> str:
    """The run's page in the MLflow UI, as MLflow's client prints it ("View run ... at:");
    "" before the run exists on the server."""
    if not experiment_id or not server_run_id:
        return ""
    return f"{public_uri(uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{server_run_id}"


def server_uri(to: str | None) -> str:
    """--to, else RUNWAL_SERVER, else MLFLOW_TRACKING_URI; NoServerConfigured if none."""
    uri = tracking_uri.resolve(to)
    if not uri:
        raise NoServerConfigured("no tracking server given")
    try:
        return tracking_uri.check(uri)
    except BadTrackingUri as exc:
        raise NoServerConfigured(exc.args[0], hint=exc.hint) from None


class MlflowServer:
    """One MLflow server as a `Destination`: a sink per run over one shared `MlflowRest`."""

    def __init__(self, rest: MlflowRest):
        self.rest = rest
        self.uri = public_uri(rest.uri)
        self.sink_name = sink_name_for(rest.uri)
        self.known = KnownRuns()  # a run's next pass skips its runs/get (syncd: one per write)

    def new_sink(self) -> MlflowSink:
        return MlflowSink(self.rest, parallel=PER_RUN_REQUESTS, known=self.known)

    def check(self, timeout: float) -> None:
        """Ping once; ServerUnavailable naming the server when it does not answer
        (AuthFailed when it answers 401/403)."""
        try:
            self.rest.ping(deadline=timeout)
        except ServerUnavailable as exc:
            raise ServerUnavailable(
                f"cannot reach the MLflow server at {self.uri}: {exc.message}"
            ) from exc


@contextlib.contextmanager
def open_server(
    uri: str,
    *,
    workers: int,
    connect_timeout: float,
    deadline: float,
    stop: threading.Event | None = None,
) -> Iterator[MlflowServer]:
    """The server at ``uri`` over a client sized for ``workers`` runs syncing at once.

    ``deadline`` bounds how long one failing request is retried; ``stop`` ends
    a retry sleep at once (SIGTERM), failing the pass as "server unavailable".
    """
    size = max(4, workers * PER_RUN_REQUESTS)
    with build_client(connect_timeout=connect_timeout, max_connections=size) as http:
        yield MlflowServer(MlflowRest(uri, http, retry=RetryPolicy(deadline=deadline), stop=stop))
