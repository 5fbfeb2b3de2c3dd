"""Start a throwaway MLflow tracking server on loopback.

Used by the demo (`scripts/demo.sh`) and by the test suite's session fixture:
SQLite backend store (or ``backend_uri``: the tests' PostgreSQL, see
tests/pgserver.py), a local artifact destination served through the server's
own ``mlflow-artifacts`` proxy, one worker unless told otherwise (the
multi-worker server's sockets have Nagle on; `syncer.sinks.mlflow.client`
says what runwal does about it).

This launches the ``mlflow`` command line in a child process; runwal itself
never imports mlflow. A server that does not start raises
`syncer.errors.LoopbackServerError` naming its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from syncer.errors import LoopbackServerError


def group_alive(pgid: int) -> bool:
    """True while any process of process group ``pgid`` exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:``port`` now (SO_REUSEADDR, as uvicorn sets
    it: a port whose last server just stopped has connections in TIME_WAIT, and is free
    for it all the same)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mlflow_cmd() -> list[str]:
    beside = Path(sys.executable).with_name("mlflow")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mlflow")
    if found is None:
        raise LoopbackServerError(
            "the `mlflow` command is not installed", hint="pip install 'mlflow==3.17.2'"
        )
    return [found]


class LocalMlflowServer:
    """``with LocalMlflowServer(root) as srv: srv.uri`` -- stopped on exit."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        port: int | None = None,
        backend_uri: str | None = None,
        workers: int = 1,
    ):
        self.root = Path(root)
        self.port = port or free_port()
        self.backend_uri = backend_uri
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0  # seconds until /health answered

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def start(self, timeout: float = 90.0) -> LocalMlflowServer:
        """Start the server and wait until it answers. LoopbackServerError when it does
        not, or when the port is taken: whatever answers there is another process's
        server, and nothing may be sent to it as if it were ours."""
        t0 = time.monotonic()
        if not port_free(self.port):
            raise LoopbackServerError(
                f"port {self.port} on 127.0.0.1 is in use by another process",
                hint="pick another --port, or leave --port out for a free one")
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [
            *_mlflow_cmd(),
            "server",
            "--backend-store-uri", self.backend_uri or f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", str(self.workers),
        ]  # fmt: skip
        env = dict(os.environ, MLFLOW_LOGGING_LEVEL="WARNING", PYTHONUNBUFFERED="1")
        # MLflow 3 starts five huey job-runner processes (~225 MiB each) for GenAI
        # jobs; tracking does not use them and on a 2-core box they eat the CPU.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LoopbackServerError(f"mlflow server exited early; see {self.log_path}")
            try:
                if httpx.get(f"{self.uri}/health", timeout=1.0).status_code == 200:
                    time.sleep(0.2)  # a server that lost the port to another exits now
                    if self.proc.poll() is not None:
                        raise LoopbackServerError(
                            f"port {self.port} answers, but not this mlflow server (it "
                            f"exited; see {self.log_path})",
                            hint="pick another --port, or leave --port out for a free one")
                    self.started_in = time.monotonic() - t0
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LoopbackServerError(
            f"mlflow server did not answer within {timeout:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server and every process of its group (uvicorn's workers, their
        resource tracker), even when the ``mlflow`` process itself is gone already."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        # The server forks uvicorn workers: signal the whole process group.
        try:
            os.killpg(proc.pid, 15)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        end = time.monotonic() + 15
        while group_alive(proc.pid):
            if time.monotonic() > end:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait(timeout=5)
                break
            time.sleep(0.05)

    def __enter__(self) -> LocalMlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
