"""The SDK when the disk or the directory fails under it, and hybrid finish() with the
server down: every drop counted and warned once, memory within its bound, training on.

Faults come through seams: the Appender's ``pwrite`` (a full disk), the FileSaver's
``copy``/``link`` (save() on a full disk), a real ``rmtree`` of the run directory.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import logwriter
from logwriter.errors import (
    DroppedRecordsWarning,
    SaveWarning,
    SyncWarning,
    WriteErrorWarning,
)
from logwriter.wal.appender import CHUNK_BYTES, MAX_PENDING_BYTES
from logwriter.wal.backlog import MAX_BYTES
from logwriter_util import QUIET, history, of_kind, read_clean, wait_until
from schema import follow_protocol as protocol

REAL_PWRITE = os.pwrite


def test_full_disk_keeps_the_retry_buffer_bounded_counts_drops_and_recovers(
    tmp_path: Path,
) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    writer = run._writer
    assert writer is not None
    full = threading.Event()
    full.set()

    def full_disk(fd: int, data: Any, offset: int) -> int:
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        return REAL_PWRITE(fd, data, offset)

    writer.appender.pwrite = full_disk
    base = os.urandom(32 * 1024).hex()  # 64 KiB that zstd cannot squeeze much
    n = 5000  # ~320 MiB logged while nothing can be written
    peak_pending = peak_queued = 0
    t0 = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(n):
            run.log({"i": i, "blob": f"{i:08d}{base[8:]}"})
            if i % 50 == 0:
                stats = run.stats()
                peak_pending = max(peak_pending, stats["pending_bytes"])
                peak_queued = max(peak_queued, stats["queued_bytes"])
        took = time.monotonic() - t0
        dropped = run.stats()["dropped"]
        full.clear()
        wait_until(lambda: run.stats()["queued"] == 0 and run.stats()["pending_bytes"] == 0,
              "the disk to come back")
        for i in range(10):
            run.log({"after": i})
        run.finish()
    kinds = [type(w.message) for w in caught]
    assert kinds.count(WriteErrorWarning) == 1 and kinds.count(DroppedRecordsWarning) == 1
    assert peak_pending <= MAX_PENDING_BYTES + 4 * CHUNK_BYTES, peak_pending
    assert peak_queued <= MAX_BYTES + 2 * len(base), peak_queued
    assert 0 < dropped < n
    assert took < 30  # one stall when the buffers filled, not one per call
    records = read_clean(run.run_dir)  # seqs dense despite the drops, EXIT written
    rows = history(records)
    kept = [d["i"] for d in rows.values() if "i" in d]
    assert kept == sorted(kept) and len(kept) == n - dropped
    assert [d["after"] for d in rows.values() if "after" in d] == list(range(10))
    assert records[-1].kind == "exit" and run.stats()["dropped"] == dropped


def test_save_on_a_full_disk_warns_and_training_goes_on(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt.pt").write_bytes(b"C" * 100)
    (tmp_path / "ok.txt").write_text("fine")
    run = logwriter.init(dir=tmp_path / "runs", **QUIET)
    saver = run._backend.saver
    assert saver is not None

    def no_space(src: Path, dest: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def other_fs(src: Path, dest: Path) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    saver.copy, saver.link = no_space, other_fs
    with pytest.warns(SaveWarning, match="ckpt.pt.*No space left"):
        assert run.save("ckpt.pt") == []
    with pytest.warns(SaveWarning, match="No space left"):
        assert run.save("*.txt", policy="end") == ["ok.txt"]  # registered; copied at finish
        run.log({"still": 1})
        run.finish()
    assert run.stats()["save_errors"] == 2
    records = read_clean(run.run_dir)
    assert of_kind(records, "file") == [] and records[-1].kind == "exit"
    assert history(records)[0] == {"still": 1}


def test_a_deleted_run_directory_is_counted_and_warned_once(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    for i in range(100):
        run.log({"i": i})
    wait_until(lambda: run.stats()["written"] >= 101, "the first rows on disk")
    shutil.rmtree(run.run_dir)
    with pytest.warns(DroppedRecordsWarning, match="was deleted") as caught:
        for i in range(100, 2600):
            run.log({"i": i})
            if i % 500 == 0:
                time.sleep(0.1)  # let the writer see it while we log
        with pytest.warns(SaveWarning, match="files/ directory is gone"):
            assert run.save(__file__) == []  # not re-created for a save() either
        run.finish()
    assert len([w for w in caught if w.category is DroppedRecordsWarning]) == 1
    assert run.stats()["dropped"] >= 2500  # every row logged after the deletion
    assert not os.path.exists(run.run_dir)  # the SDK never re-creates it


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hybrid_finish_returns_at_once_when_the_follower_says_the_server_is_down(
    tmp_path: Path,
) -> None:
    run = logwriter.init(dir=tmp_path, mode="hybrid", server=f"http://127.0.0.1:{_closed_port()}",
                         **QUIET)
    follower = run._follower
    assert follower is not None
    try:
        run.log({"a": 1})
        # What the follower says (schema.follow_protocol) once a contact failed and it
        # is going to retry; written here for it, ahead of the follower's own (which
        # may win the race: tests/logwriter/session/test_modes.py has the real thing).
        protocol.write_server_state(run.run_dir, up=False, why="connection refused",
                                    pid=follower.pid)
        t0 = time.monotonic()
        with pytest.warns(SyncWarning,
                          match="does not answer: (connection refused|cannot reach)"):
            run.finish()
        took = time.monotonic() - t0
    finally:
        follower.proc.terminate()
        follower.proc.wait(30)
    assert took < 1.5, took  # not its whole sync_timeout (5 s)
    assert read_clean(run.run_dir)[-1].kind == "exit"


def test_a_stale_server_state_of_another_follower_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "sync").mkdir()
    protocol.write_server_state(tmp_path, up=False, why="old news", pid=1)
    assert protocol.read_server_down(tmp_path, 2) is None
    assert protocol.read_server_down(tmp_path, 1) == "old news"
    protocol.write_server_state(tmp_path, up=True, pid=1)
    assert protocol.read_server_down(tmp_path, 1) is None
