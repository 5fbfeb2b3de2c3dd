"""``sync/<sink>.lock``: who holds a run, in the words the one left out prints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncer.engine import synclock
from syncer.engine.synclock import SyncLock


@pytest.mark.parametrize(("role", "named"), [
    ("sync", "busy: another `runwal sync` (process {pid}) is syncing this run"),
    ("syncd", "busy: a `runwal syncd` (process {pid}) is syncing this run"),
    ("follow", "busy: the run's follower (process {pid}) is syncing this run"),
])
def test_the_busy_message_names_what_holds_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: str, named: str
) -> None:
    monkeypatch.setattr(synclock, "_role", role)
    held = SyncLock(tmp_path, "mlflow-x")
    assert held.acquire()
    try:
        assert held.path.read_text().split() == [str(os.getpid()), role]
        other = SyncLock(tmp_path, "mlflow-x")
        assert not other.acquire()  # flock is per open file: a second open is refused
        assert other.busy_reason().startswith(named.format(pid=os.getpid()))
        assert f"kill {os.getpid()}" in other.busy_reason() or role == "sync"
    finally:
        held.release()
    assert SyncLock(tmp_path, "mlflow-x").acquire()


def test_a_lock_written_before_roles_still_names_its_pid(tmp_path: Path) -> None:
    lock = SyncLock(tmp_path, "mlflow-x")
    lock.path.parent.mkdir()
    lock.path.write_text("4242\n")
    assert lock.holder() == 4242
    assert lock.busy_reason().startswith("busy: process 4242 is syncing this run")


def test_the_role_comes_from_the_command_line_when_not_set(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synclock, "_role", None)
    monkeypatch.setattr("sys.argv", ["runwal", "follow", "runs/x"])
    assert synclock.role() == "follow"
    monkeypatch.setattr("sys.argv", ["python"])
    assert synclock.role() == "syncer"
