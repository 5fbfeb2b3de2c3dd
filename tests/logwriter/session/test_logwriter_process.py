"""Real-process tests: kill -9 mid-logging, SIGTERM preemption, uncaught errors, fork."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from logwriter_util import damage, history, of_kind, read_clean, read_run

CHILD = str(Path(__file__).resolve().parents[2] / "crash_child.py")
FLUSH_INTERVAL = 0.05  # what crash_child.py passes to init()
# Time allowed between log() returning and its bytes reaching the kernel: one
# flush interval plus a generous margin for a loaded 2-core CI machine.
SLACK = 0.5


def _spawn(mode: str, root: Path, run_id: str, *extra: str, **kw: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, CHILD, mode, str(root), run_id, *extra], **kw)


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, "child died before logging"
        time.sleep(0.02)
    raise AssertionError("child never started logging")


def test_kill_minus_9_loses_only_the_last_flush_interval(tmp_path: Path) -> None:
    rng = random.Random(1234)
    for trial in range(10):
        run_id = f"crash{trial}"
        side = tmp_path / f"{run_id}.side"
        proc = _spawn("loop", tmp_path, run_id, str(side))
        try:
            _wait_for_lines(side, 1, proc)
            time.sleep(rng.uniform(0.6, 1.6))
            killed_at = time.monotonic()
            proc.kill()
        finally:
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL

        acked = []
        for line in side.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:  # the last line may itself be torn by the kill
                acked.append((int(parts[0]), float(parts[1])))
        must_have = [step for step, t in acked if t < killed_at - FLUSH_INTERVAL - SLACK]
        assert must_have, "trial too short to check anything"

        records, events = read_run(tmp_path / run_id)
        assert damage(events) == [], f"trial {trial}: {events}"
        assert len(events) <= 1  # at most one torn tail
        rows = history(records)
        missing = [s for s in must_have if s not in rows]
        assert not missing, f"trial {trial}: acknowledged steps lost: {missing[:10]}"
        # What is on disk is an exact prefix: dense steps, values as logged.
        assert sorted(rows) == list(range(len(rows)))
        for step, data in rows.items():
            assert data == {"step_copy": step, "x": step * 0.5, "tag": f"s{step}"}
        assert [r.seq for r in records] == list(range(len(records)))


def test_crashed_run_resumes_in_a_new_segment(tmp_path: Path) -> None:
    import logwriter

    side = tmp_path / "side"
    proc = _spawn("loop", tmp_path, "crashres", str(side))
    try:
        _wait_for_lines(side, 200, proc)
        time.sleep(FLUSH_INTERVAL + SLACK)  # let some of it reach the log
    finally:
        proc.kill()
        proc.wait(10)
    before, _ = read_run(tmp_path / "crashres")
    last_step = max(history(before))

    run = logwriter.init(id="crashres", dir=tmp_path, resume="must", capture_console=False,
                         stats_interval=0)
    assert run.step == last_step + 1
    run.log({"after": 1})
    run.finish()

    records, events = read_run(tmp_path / "crashres")
    assert damage(events) == []  # a torn tail in segment 0 at most, then a clean segment
    segs = sorted(p.name for p in (tmp_path / "crashres" / "log").glob("*.seg"))
    assert len(segs) == 2 and int(segs[1].split(".")[0]) == before[-1].seq + 1
    assert [r.seq for r in records] == list(range(len(records)))
    assert history(records)[last_step + 1] == {"after": 1}
    assert of_kind(records, "resume")[0]["base_seq"] == before[-1].seq + 1


def test_sigterm_records_preempted_and_dies_by_sigterm(tmp_path: Path) -> None:
    proc = _spawn("sigterm", tmp_path, "term", stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGTERM
    records = read_clean(tmp_path / "term")
    assert records[-1].kind == "exit"
    assert records[-1].body["status"] == "preempted"
    assert records[-1].body["code"] == 128 + signal.SIGTERM
    assert [history(records)[s]["i"] for s in range(5)] == list(range(5))


@pytest.mark.parametrize(("mode", "status", "code", "rc"), [
    ("raise", "failed", 1, 1),
    ("exit", "finished", 0, 0),
])
def test_atexit_finishes_with_the_right_status(
    tmp_path: Path, mode: str, status: str, code: int, rc: int
) -> None:
    proc = _spawn(mode, tmp_path, mode, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == rc, err
    records = read_clean(tmp_path / mode)
    assert records[-1].body["status"] == status
    assert records[-1].body["code"] == code
    assert len(history(records)) == 5


def test_fork_child_cannot_touch_the_parents_log(tmp_path: Path) -> None:
    proc = _spawn("fork", tmp_path, "forky", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    # Exactly one warning, telling the user to init() in the child.
    assert len(report["warnings"]) == 1
    assert report["warnings"][0][0] == "ForkedRunWarning"
    assert "init()" in report["warnings"][0][1]

    records = read_clean(tmp_path / "forky")
    rows = history(records)
    assert [rows[s] for s in range(20)] == [{"parent": i} for i in range(20)]
    assert not any("from_child" in d for d in rows.values())
    assert of_kind(records, "exit")[-1]["status"] == "finished"
    assert not any(b.get("child") for b in of_kind(records, "config"))

    child = read_clean(report["child_dir"])
    assert history(child) == {0: {"child": 1}}
    assert child[-1].body["status"] == "finished"
