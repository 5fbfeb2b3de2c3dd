"""The syncer's HTTP client: the quick-ACK transport that avoids the multi-worker stall."""

from __future__ import annotations

import socket
import sys

import httpx
import pytest

from syncer.sinks.mlflow.client import QuickAckBackend, QuickAckStream, build_client


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_QUICKACK is Linux's")
def test_the_default_client_reads_through_the_quick_ack_backend() -> None:
    """Pins the one private attribute the fix relies on (httpx hides httpcore's
    network_backend): if an upgrade moves it, this fails instead of the syncer
    silently going back to ~48 ms per request on a multi-worker server."""
    with build_client() as http:
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, QuickAckBackend)


def test_a_quick_ack_stream_sets_the_option_before_each_read() -> None:
    with socket.create_server(("127.0.0.1", 0)) as srv:
        conn = QuickAckBackend().connect_tcp("127.0.0.1", srv.getsockname()[1], timeout=5)
        peer, _ = srv.accept()
        try:
            assert isinstance(conn, QuickAckStream)
            peer.sendall(b"hi")
            assert conn.read(10, timeout=5) == b"hi"
            conn.write(b"ok", timeout=5)
            assert peer.recv(10) == b"ok"
        finally:
            conn.close()
            peer.close()


def test_a_given_transport_is_used_as_is() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    with build_client(transport=httpx.MockTransport(answer)) as http:
        assert http.get("http://x/y").json() == {"ok": True}
