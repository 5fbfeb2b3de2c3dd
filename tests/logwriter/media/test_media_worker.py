"""The media worker's bounds: by age and bytes like the writer queue, drops when stuck."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from logwriter.errors import DroppedRecordsWarning
from logwriter.media import worker as worker_mod
from logwriter.media.base import Media
from logwriter.media.logged import MediaJob
from logwriter.media.store import MediaStore
from logwriter.media.worker import MediaWorker


class Slow(Media):
    """A value whose storing waits for ``gate`` (a slow encoder, a stuck disk)."""

    kind = "html"

    def __init__(self, gate: threading.Event, nbytes: int = 10) -> None:
        self.gate = gate
        self.nbytes = nbytes
        self.started = threading.Event()

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        self.started.set()
        self.gate.wait(10)
        return [{"format": "html"}]


def make(tmp_path: Path, put: list[Any], **kw: Any) -> tuple[MediaWorker, MediaStore, list[Any]]:
    notices: list[Any] = []
    args = {"max_lag": 0.05, "max_bytes": 1 << 20, "put_timeout": 0.1, **kw}
    worker = MediaWorker(lambda *rec: put.append(rec) or True, lambda: 0, notices, **args)
    return worker, MediaStore(tmp_path), notices


def test_a_submit_waits_while_the_oldest_value_is_a_flush_interval_old(tmp_path: Path
                                                                       ) -> None:
    put: list[Any] = []
    worker, store, _ = make(tmp_path, put, put_timeout=5.0)
    gate = threading.Event()
    first = Slow(gate)
    assert worker.submit(1.0, MediaJob("a", 0, "html", [first], store))
    first.started.wait(5)
    threading.Timer(0.2, gate.set).start()
    assert worker.submit(2.0, MediaJob("a", 1, "html", [Slow(gate)], store))
    assert worker.done >= 1  # it returned only once the old value was stored
    assert worker.close(5)
    assert [(rec[1], rec[2]["step"]) for rec in put] == [(1.0, 0), (2.0, 1)]


def test_a_stuck_store_drops_with_one_warning(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_mod, "MAX_BUSY_S", 0.2)
    put: list[Any] = []
    worker, store, notices = make(tmp_path, put)
    gate = threading.Event()
    stuck = Slow(gate)
    assert worker.submit(0.0, MediaJob("a", 0, "html", [stuck], store))
    stuck.started.wait(5)
    assert not worker.submit(0.0, MediaJob("a", 1, "html", [Slow(gate)], store))
    assert not worker.submit(0.0, MediaJob("a", 2, "html", [Slow(gate)], store))
    assert worker.dropped == 2 and len(notices) == 1
    assert notices[0][0] is DroppedRecordsWarning and "media_dropped" in notices[0][1]
    gate.set()
    assert worker.close(5)
    assert [rec[2]["step"] for rec in put] == [0]


def test_the_bytes_held_count_against_the_writer_queue(tmp_path: Path) -> None:
    put: list[Any] = []
    gate = threading.Event()
    worker = MediaWorker(lambda *rec: put.append(rec) or True, lambda: 900, [],
                         max_lag=60.0, max_bytes=1000, put_timeout=5.0)
    store = MediaStore(tmp_path)
    first = Slow(gate, nbytes=50)
    assert worker.submit(0.0, MediaJob("a", 0, "html", [first], store))
    first.started.wait(5)
    threading.Timer(0.2, gate.set).start()
    # 256 + 50 held + 900 queued in the writer + 306: over 1000, so it waits for the first
    assert worker.submit(0.0, MediaJob("a", 1, "html", [Slow(gate, nbytes=50)], store))
    assert worker.done >= 1
    assert worker.close(5)


def test_close_stores_what_is_queued_then_refuses(tmp_path: Path) -> None:
    put: list[Any] = []
    worker, store, _ = make(tmp_path, put, max_lag=60.0)
    gate = threading.Event()
    gate.set()
    for step in range(3):
        assert worker.submit(0.0, MediaJob("a", step, "html", [Slow(gate)], store))
    assert worker.close(5) and [rec[2]["step"] for rec in put] == [0, 1, 2]
    assert not worker.submit(0.0, MediaJob("a", 3, "html", [Slow(gate)], store))
    assert MediaWorker(lambda *r: True, lambda: 0, [], max_lag=1, max_bytes=1,
                       put_timeout=1).close(1)  # never started: nothing to stop
