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


class _SockSpy:
    """The stream's socket, noting each setsockopt and recv in order."""

    def __init__(self, sock: socket.socket, seen: list[str]) -> None:
        self._sock, self._seen = sock, seen

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self._seen.append(f"setsockopt {level} {option} {value}")
        self._sock.setsockopt(level, option, value)

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_QUICKACK is Linux's")
def test_a_quick_ack_stream_sets_the_option_before_each_read() -> None:
    """TCP_QUICKACK is not sticky (the kernel goes back to delayed ACKs), so it is set
    before every read: two reads, two setsockopt calls, each before its read."""
    seen: list[str] = []
    quick = f"setsockopt {socket.IPPROTO_TCP} {socket.TCP_QUICKACK} 1"  # type: ignore[attr-defined]
    with socket.create_server(("127.0.0.1", 0)) as srv:
        conn = QuickAckBackend().connect_tcp("127.0.0.1", srv.getsockname()[1], timeout=5)
        peer, _ = srv.accept()
        try:
            assert isinstance(conn, QuickAckStream)
            conn._sock = _SockSpy(conn._sock, seen)
            for word in (b"hi", b"yo"):
                peer.sendall(word)
                assert conn.read(10, timeout=5) == word
                seen.append("read")
            conn.write(b"ok", timeout=5)
            assert peer.recv(10) == b"ok"
        finally:
            conn.close()
            peer.close()
    assert seen == [quick, "read", quick, "read"]


def test_a_given_transport_is_used_as_is() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    with build_client(transport=httpx.MockTransport(answer)) as http:
        assert http.get("http://x/y").json() == {"ok": True}
