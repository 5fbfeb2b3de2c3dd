"""The one ``httpx.Client`` a syncer process talks to its server through.

Keep-alive connections sized for the runs syncing at once, a short connect
timeout (a closed port fails fast) and a long read timeout (a big log-batch on
a busy server). Credentials come from the environment (MLFLOW_TRACKING_TOKEN
as a Bearer token, or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD as
Basic auth) and live only in the client's auth object: never logged, never
written to a checkpoint; ``user:password@`` in a URI never gets this far
(`schema.uri.public_uri` is what is printed and stored).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import httpx


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``; repr hides the token."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def auth_from_env(env: dict[str, str] | None = None) -> httpx.Auth | None:
    env = dict(os.environ) if env is None else env
    token = env.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return BearerAuth(token)
    user = env.get("MLFLOW_TRACKING_USERNAME")
    if user:
        return httpx.BasicAuth(user, env.get("MLFLOW_TRACKING_PASSWORD", ""))
    return None


def build_client(
    *,
    connect_timeout: float = 5.0,
    timeout: float = 60.0,
    max_connections: int = 16,
    transport: httpx.BaseTransport | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.Client:
    """A keep-alive client with a short connect timeout (a closed port fails fast)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        transport=transport,
        auth=auth if auth is not None else auth_from_env(),
        headers={"User-Agent": "runwal-syncer"},
    )
