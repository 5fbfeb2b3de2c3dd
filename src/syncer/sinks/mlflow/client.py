"""The one ``httpx.Client`` a syncer process talks to its server through.

Keep-alive connections sized for the runs syncing at once, a short connect
timeout (a closed port fails fast) and a long read timeout (a big log-batch on
a busy server). Credentials come from the environment (MLFLOW_TRACKING_TOKEN
as a Bearer token, or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD as
Basic auth) and live only in the client's auth object: never logged, never
written to a checkpoint; ``user:password@`` in a URI never gets this far
(`schema.uri.public_uri` is what is printed and stored).

The keep-alive stall. ``mlflow server --workers N`` (N > 1; uvicorn's
multiprocess mode) leaves Nagle on for the connections its workers accept
(TCP_NODELAY read back from the server's sockets: 0 with 4 workers, 1 with
one), and uvicorn writes a response's head and body in two writes. The body
then waits for the client's ACK of the head, which Linux delays by ~40 ms
once a connection has left its quick-ACK start: every request on a reused
connection cost ~48 ms against a 4-worker server, ~5 ms against a 1-worker
one (back-to-back small GETs, p50, PostgreSQL store, MLflow 3.17.2). The
client cannot turn the server's Nagle off, but it can ACK at once:
`QuickAckBackend` sets TCP_QUICKACK (Linux; a no-op elsewhere) before every
read of a connection, so the head is acknowledged as it arrives and the body
follows without the wait (p50 5.0 ms on the 4-worker server). The request
side needs nothing: httpcore sets TCP_NODELAY on its own sockets.
"""

from __future__ import annotations

import contextlib
import os
import socket
import typing
from collections.abc import Generator

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend

QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


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


class QuickAckStream(httpcore.NetworkStream):
    """A connection that acknowledges what it receives at once (see the module doc)."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream
        self._sock = stream.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if QUICKACK is not None and self._sock is not None:
            with contextlib.suppress(OSError):  # closed, or not TCP: the read will say
                self._sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: typing.Any, server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # The TLS stream reads through the plain socket: the quick ACK still applies.
        return QuickAckStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class QuickAckBackend(SyncBackend):
    """httpcore's own socket backend, its TCP connections wrapped in `QuickAckStream`."""

    def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.NetworkStream:
        return QuickAckStream(super().connect_tcp(*args, **kwargs))


def quickack_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's transport over `QuickAckBackend`. httpx does not expose httpcore's
    ``network_backend``: the pool's is replaced after construction (pinned by a test;
    an httpcore without the attribute gets the plain transport, slower, not wrong)."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    if QUICKACK is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = QuickAckBackend()  # type: ignore[union-attr]
    return transport


def build_client(
    *,
    connect_timeout: float = 5.0,
    timeout: float = 60.0,
    max_connections: int = 16,
    transport: httpx.BaseTransport | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.Client:
    """A keep-alive client with a short connect timeout (a closed port fails fast),
    acknowledging answers at once (`quickack_transport`) unless given a ``transport``."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=limits,
        transport=transport if transport is not None else quickack_transport(limits),
        auth=auth if auth is not None else auth_from_env(),
        headers={"User-Agent": "runwal-syncer"},
    )
