"""Shared fixtures: no leaked threads, a real MLflow server on loopback.

Every test that uses the server (the ``mlflow_server`` or ``mlflow_uri``
fixture) is marked ``server`` here, so the fast offline part runs alone with
``./scripts/test.sh -m "not server"``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from syncer.sinks.mlflow.loopback_server import LocalMlflowServer

SERVER_FIXTURES = frozenset({"mlflow_server", "mlflow_uri"})
POSTGRES_FIXTURES = frozenset({"pg_mlflow_server", "pg_mlflow_uri"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
        if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """runwal's caches (``runwal ls``) go to a temp dir, never the user's ~/.cache;
    children inherit it through the environment."""
    old = os.environ.get("RUNWAL_CACHE_DIR")
    os.environ["RUNWAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("runwal-cache"))
    yield
    if old is None:
        os.environ.pop("RUNWAL_CACHE_DIR", None)
    else:
        os.environ["RUNWAL_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail any test that leaves a thread of its own running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [
            t for t in threading.enumerate()
            if t not in before and t.is_alive() and not t.name.startswith("pytest_timeout")
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    """One real MLflow tracking server (SQLite, temp artifacts) for the session."""
    with LocalMlflowServer(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture
def mlflow_uri(mlflow_server: LocalMlflowServer) -> str:
    return mlflow_server.uri


@pytest.fixture(scope="session")
def pg_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    """MLflow's production shape for the session: ``--workers 4`` on a private
    PostgreSQL (tests/pgserver.py); skipped without ``runwal[postgres]``."""
    import pgserver

    try:
        ctx = pgserver.pg_mlflow(tmp_path_factory.mktemp("mlflow-pg"), workers=4)
        server, pg = ctx.__enter__()
    except pgserver.PostgresUnavailable as exc:
        pytest.skip(str(exc))
    print(f"\npg_mlflow_server: postgres {pg.started_in:.1f}s, mlflow --workers 4 "
          f"{server.started_in:.1f}s")
    try:
        yield server
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture
def pg_mlflow_uri(pg_mlflow_server: LocalMlflowServer) -> str:
    return pg_mlflow_server.uri
