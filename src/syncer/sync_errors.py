"""Errors raised while syncing a run to a tracking server.

Tree::

    SyncError                   base; carries a one-line ``hint``
    ├── NoServerConfigured      no --to, RUNWAL_SERVER or MLFLOW_TRACKING_URI
    ├── ServerUnavailable       connect errors / timeouts / 5xx / 429 past the retry deadline
    ├── ServerRejected          the server refused a request for good (4xx other than 429)
    │   ├── AuthFailed          401 / 403: every later request would fail the same way
    │   └── RunGone             the server run this checkpoint points at no longer exists
    └── ArtifactsUnsupported    the server does not proxy artifacts (no mlflow-artifacts: URI)

A rejected *record* is not an exception: the sink isolates it, reports it as a
`Rejection` and goes on, because one bad value must never cost the whole run.
"""

from __future__ import annotations

from schema.errors import HintError


class SyncError(HintError):
    """Base class; ``hint`` says what the user can do about it."""


class NoServerConfigured(SyncError):
    hint = "pass --to http://HOST:PORT or set RUNWAL_SERVER / MLFLOW_TRACKING_URI"


class ServerUnavailable(SyncError):
    hint = "check that the server is up and reachable; `runwal sync` resumes where it stopped"


class ServerRejected(SyncError):
    hint = "the server refused the request; see the message for the field it names"

    def __init__(
        self, message: str, *, status: int = 0, error_code: str = "", hint: str | None = None
    ):
        self.status = status
        self.error_code = error_code
        super().__init__(message, hint=hint)


class AuthFailed(ServerRejected):
    hint = "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD"


class RunGone(ServerRejected):
    hint = "the server run was deleted; remove the run's sync/ checkpoint to sync it as a new run"


class ArtifactsUnsupported(SyncError):
    hint = "start the server with artifact proxying (`mlflow server --artifacts-destination ...`)"
