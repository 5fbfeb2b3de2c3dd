"""``runwal syncd`` on a login node with thousands of runs: what each wakeup costs.

The rules are the ones in test_syncd.py; these pin the two things that keep
them cheap at 10,000 runs (bench/syncd_scale.py measures them): the schedule
hands out runs from a heap instead of sorting every waiting run, and the
watcher looks at quiet runs less often.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from syncer.daemon import watch
from syncer.daemon.schedule import Schedule
from syncer.daemon.watch import Watcher
from syncer.engine.result import SyncResult
from syncutil import training_records, write_run


def skipped(name: str) -> SyncResult:
    return SyncResult(run_dir=name, run_id=name, status="skipped", reason="already synced")


def test_many_runs_are_handed_out_once_each_in_the_order_they_became_due(
    tmp_path: Path
) -> None:
    rng = random.Random(3)
    s = Schedule(tmp_path, workers=4, debounce=0.0)
    due = {f"r{i:04d}": rng.uniform(0, 10) for i in range(3000)}
    for name, t in sorted(due.items(), key=lambda kv: -kv[1]):
        s.notify(name, t)
        s.notify(name, t + 1)  # a second change before its pass: no second entry
    order: list[str] = []
    now = 0.0
    while not s.idle():
        slots = s.take(now)
        for slot in slots:
            order.append(slot.name)
            s.done(slot, skipped(slot.name), now)
        now += 0.01
    assert sorted(order) == sorted(due) and len(order) == len(due)
    assert order == sorted(due, key=lambda n: due[n])  # the earliest due first, always
    assert s.take(100.0) == [] and s.next_wake(100.0) is None


def test_a_run_rescheduled_while_waiting_starts_at_its_new_time(tmp_path: Path) -> None:
    s = Schedule(tmp_path, workers=1, debounce=1.0)
    s.notify("a", 0.0)
    s.notify("b", 0.5)
    (a,) = s.take(1.0)
    s.notify("a", 1.1)  # changed while running: one more pass after this one
    s.done(a, skipped("a"), 1.2)
    assert [x.name for x in s.take(1.5)] == ["b"]  # b was due first
    assert s.next_wake(1.5) is None  # the one worker is busy


def test_quiet_runs_are_looked_at_less_often_and_changes_still_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = write_run(tmp_path, "old00001", training_records(5))
    live = write_run(tmp_path, "live0001", training_records(5, status=None))
    hours_ago = time.time() - 7200
    for f in [old / "run.json", *(old / "log").iterdir()]:
        os.utime(f, (hours_ago, hours_ago))
    looked: list[str] = []
    real = watch.signature
    monkeypatch.setattr(watch, "signature", lambda run: looked.append(run.name) or real(run))
    clock = [1000.0]
    monkeypatch.setattr(watch.time, "monotonic", lambda: clock[0])
    w = Watcher(tmp_path, lambda name: None, mode="poll", poll_interval=0.5)
    assert sorted(w.scan()) == ["live0001", "old00001"]
    looked.clear()
    clock[0] += 0.5
    assert w.scan() == [] and looked == ["live0001"]  # the quiet run is not stat'ed
    seg = next((old / "log").iterdir())
    with open(seg, "ab") as fh:  # a write to the quiet run (a torn tail, say)
        fh.write(b"\0")
    clock[0] += watch.QUIET_EVERY
    assert w.scan() == ["old00001"]  # seen at its next look
    looked.clear()
    clock[0] += 0.5
    assert w.scan() == [] and sorted(looked) == [live.name, "old00001"]  # live again
