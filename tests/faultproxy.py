"""A loopback HTTP proxy in front of the real MLflow server that misbehaves on cue.

The transport seam (`httpx.MockTransport`-style handlers in test_mlflow_faults)
can fail a request *before* the server sees it. What it cannot do is the worst
fault a network has: the server applied the request, and the answer never came
back. This proxy is a real TCP server between the syncer and MLflow, so every
fault is seen by the syncer exactly as it would be on a cluster:

=============  ==============================================================
action         what the client sees
=============  ==============================================================
``pass``       the server's answer
``reset``      the connection closed before the request was forwarded
``drop``       the request *applied* on the server, then the connection closed
``status:N``   HTTP N without forwarding (``status:503``, ``status:429``)
``slow:S``     the server's answer after S seconds
``truncate``   the server's answer cut in the middle of its body
=============  ==============================================================

``rule(n, method, path)`` picks the action of the n-th request (1-based) and
may keep state of its own; `Rules` gives the common ones. The proxy counts
what it did, so a test can assert that the fault really happened.

Used by tests/test_reliability_*.py (small, in CI) and bench/reliability.py
(many trials, by hand).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Rule = Callable[[int, str, str], str]
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
       "proxy-connection", "te", "trailer", "upgrade", "content-encoding"}


def always_pass(n: int, method: str, path: str) -> str:
    return "pass"


class Rules:
    """Ready-made rules."""

    @staticmethod
    def first(path_part: str, action: str, times: int = 1) -> Rule:
        """``action`` for the first ``times`` requests whose path contains ``path_part``."""
        left = [times]
        lock = threading.Lock()

        def rule(n: int, method: str, path: str) -> str:
            with lock:
                if path_part in path and left[0] > 0:
                    left[0] -= 1
                    return action
            return "pass"

        return rule

    @staticmethod
    def nth(path_part: str, k: int, action: str,
            before: Callable[[], object] | None = None) -> Rule:
        """``action`` for the k-th request (1-based) whose path contains ``path_part``;
        ``before()`` runs first (in the proxy's thread, before anything is forwarded)."""
        seen = [0]
        lock = threading.Lock()

        def rule(n: int, method: str, path: str) -> str:
            if path_part not in path:
                return "pass"
            with lock:
                seen[0] += 1
                if seen[0] != k:
                    return "pass"
            if before is not None:
                before()
            return action

        return rule

    @staticmethod
    def hook(path_part: str, call: Callable[[], object], action: str, k: int = 1) -> Rule:
        """At the k-th request whose path contains ``path_part``: ``call()``, then ``action``."""
        return Rules.nth(path_part, k, action, before=call)

    @staticmethod
    def every(k: int, action: str) -> Rule:
        """``action`` for every k-th request."""
        return lambda n, method, path: action if n % k == 0 else "pass"


class FaultProxy:
    """``with FaultProxy(upstream, rule) as proxy: ... proxy.uri ...``"""

    def __init__(self, upstream: str, rule: Rule = always_pass):
        self.upstream = upstream.rstrip("/")
        self.rule = rule
        self.count = 0
        self.done: Counter[str] = Counter()  # action -> times taken
        self.log: list[tuple[int, str, str, str]] = []  # (n, method, path, action)
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10  # an idle keep-alive connection ends its thread

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                with proxy._lock:
                    proxy.count += 1
                    n = proxy.count
                action = proxy.rule(n, self.command, self.path)
                with proxy._lock:
                    proxy.done[action.split(":")[0]] += 1
                    proxy.log.append((n, self.command, self.path, action))
                if action == "reset":
                    self._abort()
                    return
                if action.startswith("status:"):
                    code = int(action.split(":")[1])
                    payload = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "fault"}'
                    self.send_response(code)
                    if code == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                resp = proxy._client.request(self.command, proxy.upstream + self.path,
                                             headers=headers, content=body)
                if action == "drop":
                    self._abort()
                    return
                if action.startswith("slow:"):
                    time.sleep(float(action.split(":")[1]))
                data = resp.content
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if action == "truncate":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self._abort()
                    return
                self.wfile.write(data)

            def _abort(self) -> None:
                # An RST, not a polite FIN: what a dead middlebox or a killed server gives.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.close_connection = True
                self.connection.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False  # server_close() joins every handler thread
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="faultproxy", daemon=True)

    @property
    def uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
        self._client.close()


@contextmanager
def fault_proxy(upstream: str, rule: Rule = always_pass) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, rule) as proxy:
        yield proxy
