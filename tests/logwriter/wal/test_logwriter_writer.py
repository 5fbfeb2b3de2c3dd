"""Writer faults: a stuck disk (back-pressure, drops) and a full disk (ENOSPC, partial
writes), through the writer's ``pwrite`` seam; plus segment rotation."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import logwriter
from logwriter.errors import DroppedRecordsWarning, WriteErrorWarning
from logwriter_util import QUIET, history, read_clean, wait_until

REAL_PWRITE = os.pwrite


def test_full_queue_drops_warns_once_and_recovers(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    writer = run._writer
    assert writer is not None
    writer.queue.max_records = 50
    writer.queue.put_timeout = 0.05
    entered, release = threading.Event(), threading.Event()

    def stuck_disk(fd: int, data: Any, offset: int) -> int:
        if not release.is_set():
            entered.set()
            release.wait(30)
        return REAL_PWRITE(fd, data, offset)

    writer.appender.pwrite = stuck_disk
    run.log({"i": -1})  # the next flush (every flush_interval) blocks in pwrite
    wait_until(entered.is_set, "the writer to block in pwrite")
    with pytest.warns(DroppedRecordsWarning) as caught:
        for i in range(300):
            run.log({"i": i})  # never raises, never blocks for more than put_timeout
    assert len([w for w in caught if w.category is DroppedRecordsWarning]) == 1
    dropped = run.stats()["dropped"]
    assert 0 < dropped <= 300
    release.set()
    wait_until(lambda: run.stats()["queued"] == 0, "the queue to drain")
    for i in range(10):
        run.log({"after": i})
    run.finish()

    assert run.stats()["dropped"] == dropped
    rows = history(read_clean(run.run_dir))  # seqs stay dense despite the drops
    logged = [d["i"] for d in rows.values() if "i" in d]
    assert len(logged) == 301 - dropped
    assert logged == sorted(logged)  # what survived is in order
    assert [d["after"] for d in rows.values() if "after" in d] == list(range(10))


def test_disk_full_is_retried_and_warned_once(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    writer = run._writer
    assert writer is not None
    calls: list[tuple[int, int]] = []  # (offset, file size when called)
    failures = {"left": 4}
    recovered = threading.Event()

    def full_disk(fd: int, data: Any, offset: int) -> int:
        calls.append((offset, os.fstat(fd).st_size))
        if failures["left"] == 4:  # first: a partial write, the rest of the group fails
            failures["left"] -= 1
            return REAL_PWRITE(fd, bytes(data[: len(data) // 2]), offset)
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        recovered.set()
        return REAL_PWRITE(fd, data, offset)

    writer.appender.pwrite = full_disk
    with pytest.warns(WriteErrorWarning, match="No space left") as caught:
        for i in range(100):
            run.log({"i": i})
        wait_until(recovered.is_set, "the disk to come back")
        for i in range(100, 200):
            run.log({"i": i})
        run.finish()
    assert len([w for w in caught if w.category is WriteErrorWarning]) == 1
    stats = run.stats()
    assert stats["write_errors"] == 3 and stats["dropped"] == 0
    assert "No space left" in stats["last_error"]
    # The partial write was truncated away before the retry at the same offset.
    assert calls[2][0] == calls[0][0] and calls[2][1] == calls[0][0]
    rows = history(read_clean(run.run_dir))
    assert [rows[s]["i"] for s in range(200)] == list(range(200))


def test_segments_rotate_and_read_back_in_order(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, fsync="never", **QUIET)
    writer = run._writer
    assert writer is not None
    writer.appender.segment_bytes = 2000
    for batch in range(8):
        for i in range(50):
            run.log({"batch": batch, "i": i, "pad": os.urandom(40).hex()})
        wait_until(lambda: run.stats()["queued"] == 0 and run.stats()["pending_bytes"] == 0,
              "a flush")
    run.finish()
    segs = sorted(p.name for p in (Path(run.run_dir) / "log").glob("*.seg"))
    assert len(segs) >= 4 and run.stats()["segments"] == len(segs)
    records = read_clean(run.run_dir)
    assert len(history(records)) == 400
    assert records[-1].kind == "exit"


@pytest.mark.parametrize("policy", ["commit", "finish", "never"])
def test_fsync_policies_all_produce_a_clean_log(tmp_path: Path, policy: str) -> None:
    run = logwriter.init(dir=tmp_path, fsync=policy, **QUIET)
    for i in range(20):
        run.log({"i": i})
    run.finish()
    assert len(history(read_clean(run.run_dir))) == 20


def test_threads_log_concurrently_without_losing_rows(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)

    def work(name: str) -> None:
        for i in range(500):
            run.log({name: i})

    threads = [threading.Thread(target=work, args=(f"t{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.finish()
    rows = history(read_clean(run.run_dir))
    assert sorted(rows) == list(range(2000))
    for k in range(4):
        assert [d[f"t{k}"] for d in rows.values() if f"t{k}" in d] == list(range(500))


def test_finish_warns_when_the_writer_does_not_stop_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logwriter.errors import FinishTimeoutWarning
    from logwriter.session import run as run_object

    monkeypatch.setattr(run_object, "CLOSE_TIMEOUT", 0.2)
    run = logwriter.init(dir=tmp_path, **QUIET)
    writer = run._writer
    assert writer is not None
    entered, release = threading.Event(), threading.Event()

    def stuck_disk(fd: int, data: Any, offset: int) -> int:
        entered.set()
        release.wait(30)
        return REAL_PWRITE(fd, data, offset)

    writer.appender.pwrite = stuck_disk
    for i in range(10):
        run.log({"i": i})
    wait_until(entered.is_set, "the writer to block in pwrite")
    try:
        with pytest.warns(FinishTimeoutWarning, match=r"up to \d+ records") as caught:
            run.finish()
    finally:
        release.set()
    message = str(caught[0].message)
    assert run.run_dir in message and "runwal verify" in message
    backlog = int(message.split("up to ", 1)[1].split()[0])
    assert backlog >= 12  # the 10 rows, the SUMMARY and the EXIT at least
    wait_until(lambda: not writer.alive, "the writer to finish once the disk answers")
    # Nothing was lost in the end: the writer drained after finish() returned.
    rows = history(read_clean(run.run_dir))
    assert [rows[s]["i"] for s in range(10)] == list(range(10))
