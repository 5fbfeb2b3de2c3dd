"""Start a throwaway MLflow tracking server on loopback.

Used by the demo (`scripts/demo.sh`) and by the test suite's session fixture:
SQLite backend store, a local artifact destination served through the
server's own ``mlflow-artifacts`` proxy, one worker (the multi-worker server
adds ~40 ms per request on keep-alive connections, see DESIGN.md).

This launches the ``mlflow`` command line in a child process; runwal itself
never imports mlflow. A server that does not start raises
`syncer.errors.LoopbackServerError` naming its log.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from syncer.errors import LoopbackServerError


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

    def __init__(self, root: str | os.PathLike[str], *, port: int | None = None):
        self.root = Path(root)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def start(self, timeout: float = 90.0) -> LocalMlflowServer:
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [
            *_mlflow_cmd(),
            "server",
            "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", "1",
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
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LoopbackServerError(
            f"mlflow server did not answer within {timeout:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        # The server forks uvicorn workers: signal the whole process group.
        try:
            os.killpg(proc.pid, 15)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=5)

    def __enter__(self) -> LocalMlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
