"""``runwal syncd``: a real daemon process against a real MLflow server, plus its
scheduling rules, watcher and threads in-process without a server."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from logwriter_util import QUIET, read_run
from schema.layout import RunDir
from schema.reader import Frame
from syncer.daemon.schedule import ARTIFACT_INTERVAL, BUSY_RETRY, Backoff, Event, Schedule
from syncer.daemon.watch import Watcher, choose_mode, mount_type
from syncer.daemon.workers import Daemon
from syncer.engine import checkpoint
from syncer.engine.cursor import LogCursor
from syncer.engine.result import SyncResult
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer, free_port
from syncer.sinks.mlflow.mapping import ts_ms
from syncer.sinks.mlflow.sink import sink_name_for
from syncutil import (
    T0,
    R,
    append_segment,
    artifact,
    client,
    runs_tagged,
    training_records,
    write_run,
)

RUNWAL = Path(sys.executable).with_name("runwal")
WAIT = 120.0  # generous: a loaded 2-core box; nothing here asserts speed


# ---------------------------------------------------------------------------
# helpers: the daemon as a process, the server read back


class Syncd:
    """``runwal syncd ... --json`` with its event lines (stderr) in a file."""

    def __init__(self, log: Path, *args: str):
        base = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen([*base, "syncd", *args, "--json"],
                                         stdout=subprocess.DEVNULL, stderr=fh)

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                out.append(ev)
        return out

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            for ev in self.events():
                if pred(ev):
                    return ev
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"syncd never logged {what} (rc={self.proc.poll()}):\n{self.log.read_text()}")

    def wait_event(self, kind: str, run: str | None = None) -> dict[str, Any]:
        return self.wait_for(
            lambda e: e.get("event") == kind and (run is None or e.get("run") == run),
            f"{kind} {run or ''}",
        )

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@contextmanager
def syncd(tmp_path: Path, *args: str) -> Iterator[Syncd]:
    d = Syncd(tmp_path / f"syncd-{time.monotonic_ns()}.log", *args)
    try:
        d.wait_event("start")
        yield d
    finally:
        d.close()


def wal_history(rd: Path, key: str) -> list[tuple[int, int, float]]:
    """(step, ts ms, value) of ``key`` as the WAL has it: what the server must hold."""
    records, _ = read_run(rd)
    return sorted(
        (r.body["step"], ts_ms(r.ts), float(r.body["data"][key]))
        for r in records
        if r.kind == "history" and key in r.body["data"]
    )


def server_history(uri: str, server_run_id: str, key: str) -> list[tuple[int, int, float]]:
    return sorted((m.step, m.timestamp, m.value)
                  for m in client(uri).get_metric_history(server_run_id, key))


def assert_exact(uri: str, project: str, rd: Path, keys: tuple[str, ...],
                 status: str = "FINISHED") -> str:
    """The server holds exactly one run for ``rd`` with exactly the WAL's history."""
    run_id = json.loads((rd / "run.json").read_text())["run_id"]
    (srv,) = runs_tagged(uri, project, run_id)
    assert srv.info.status == status
    for key in keys:
        want = wal_history(rd, key)
        assert want, key
        assert server_history(uri, srv.info.run_id, key) == want, key
    return str(srv.info.run_id)


def wait_checkpoint(rd: Path, uri: str, seq: int) -> None:
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        ck = checkpoint.load(RunDir(rd), sink_name_for(uri))
        if ck is not None and ck.seq >= seq:
            return
        time.sleep(0.05)
    pytest.fail(f"{rd.name}: the checkpoint never reached seq {seq}")


def sdk_run(root: Path, project: str) -> Any:
    import logwriter

    return logwriter.init(project=project, dir=str(root), **QUIET)


def log_steps(run: Any, steps: range, pause_every: int = 0) -> None:
    """Steps ``steps`` (they continue the run's own count); each log() commits at
    once (with ``step=`` the SDK keeps the row open until the next step)."""
    for s in steps:
        run.log({"loss": 1.0 / (s + 1), "acc": s / 1000})
        if pause_every and s % pause_every == 0:
            time.sleep(0.02)  # a live run: frames land while syncd is syncing


# ---------------------------------------------------------------------------
# end to end


def test_existing_and_new_runs_reach_the_server_exactly(tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    old = write_run(runs, "old00001", training_records(400), project="p-syncd")
    old2 = write_run(runs, "old00002", training_records(50, ("a",)), project="p-syncd")
    live = training_records(30, status=None)
    live.append((R.CONSOLE, T0 + 9, {"stream": "stdout", "text": "epoch 1\n"}))
    old3 = write_run(runs, "old00003", live, project="p-syncd")  # a crashed run
    with syncd(tmp_path, str(runs), "--to", mlflow_uri, "--watch", "events") as d:
        start = d.wait_event("start")
        assert start["mode"] == "events" and start["runs"] == 3
        run = sdk_run(runs, "p-syncd")
        log_steps(run, range(300), pause_every=25)
        # a step logged while syncd watches is on the server before finish()
        d.wait_for(lambda e: e.get("run") == run.id and e.get("event") == "synced"
                   and e["seq"] > 0, "a synced line for the live run")
        run.finish()
        d.wait_event("finished", run.id)
        d.wait_event("finished", "old00001")
        d.wait_event("finished", "old00002")
        assert d.terminate() == 0
        kinds = [e["event"] for e in d.events()]
    assert kinds.count("discovered") == 1  # only the run created after start
    assert kinds[-1] == "stopped" and "failed" not in kinds
    assert_exact(mlflow_uri, "p-syncd", old, ("loss", "acc"))
    assert_exact(mlflow_uri, "p-syncd", old2, ("a",))
    crashed = assert_exact(mlflow_uri, "p-syncd", old3, ("loss",), status="RUNNING")
    # its console log, deferred by the passes, was uploaded when syncd stopped
    assert artifact(mlflow_uri, crashed, "output.log") == b"epoch 1\n"
    assert_exact(mlflow_uri, "p-syncd", runs / run.id, ("loss", "acc"))


@pytest.mark.server  # starts its own MLflow server
def test_server_down_and_back_ends_exact(tmp_path: Path) -> None:
    port = free_port()
    srv_root = tmp_path / "srv"
    server = LocalMlflowServer(srv_root, port=port).start()
    runs = tmp_path / "runs"
    runs.mkdir()
    run = None
    try:
        with syncd(tmp_path, str(runs), "--to", server.uri, "--deadline", "1",
                   "--max-backoff", "1") as d:
            run = sdk_run(runs, "p-outage")
            log_steps(run, range(100))
            wait_checkpoint(runs / run.id, server.uri, 100)  # steps 0-99 (seq 1-100)
            server.stop()
            log_steps(run, range(100, 250), pause_every=10)
            d.wait_event("server_down")
            log_steps(run, range(250, 300))
            server = LocalMlflowServer(srv_root, port=port).start()
            log_steps(run, range(300, 400), pause_every=20)
            run.finish()
            run = None
            d.wait_event("server_up")
            d.wait_event("finished")
            assert d.proc.poll() is None  # the daemon lived through it
            assert d.terminate() == 0
        (rd,) = runs.iterdir()
        assert_exact(server.uri, "p-outage", rd, ("loss", "acc"))
    finally:
        if run is not None:
            run.finish()
        server.stop()


def test_sigterm_mid_backlog_exits_0_with_a_consistent_checkpoint(
    tmp_path: Path, mlflow_uri: str
) -> None:
    runs = tmp_path / "runs"
    rd = write_run(runs, "term0001", training_records(20_000, ("x", "y")), project="p-term")
    ckpt_name = sink_name_for(mlflow_uri)
    with syncd(tmp_path, str(runs), "--to", mlflow_uri) as d:
        end = time.monotonic() + WAIT
        ck = None
        while time.monotonic() < end and d.proc.poll() is None:
            ck = checkpoint.load(RunDir(rd), ckpt_name)
            if ck is not None and ck.seq > 0:
                break
            time.sleep(0.02)
        assert ck is not None and ck.seq > 0, d.log.read_text()
        assert d.terminate() == 0
        assert d.events()[-1]["event"] == "stopped" and d.events()[-1]["signal"] == "SIGTERM"
    ck = checkpoint.load(RunDir(rd), ckpt_name)
    assert ck is not None and not ck.finished  # stopped mid-backlog, after a batch
    # The server has exactly the records up to the checkpoint's seq ...
    (srv,) = runs_tagged(mlflow_uri, "p-term", "term0001")
    steps = [s for s, _, _ in server_history(mlflow_uri, srv.info.run_id, "x")]
    assert steps == list(range(ck.seq - 1))  # history step s is seq s + 2 (RUN, CONFIG first)
    # ... and the saved position is the frame right after it.
    first = next(f for f in LogCursor(RunDir(rd), segment=ck.segment, offset=ck.offset).poll()
                 if isinstance(f, Frame))
    assert first.records[0].seq == ck.seq + 1
    # Resuming finishes the run with nothing doubled.
    base = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    once = subprocess.run([*base, "syncd", str(runs), "--to", mlflow_uri, "--once"],
                          capture_output=True, text=True, timeout=240)
    assert once.returncode == 0, once.stderr
    assert_exact(mlflow_uri, "p-term", rd, ("x", "y"))


def test_poll_mode_without_events(tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with syncd(tmp_path, str(runs), "--to", mlflow_uri, "--watch", "poll",
               "--poll-interval", "0.2") as d:
        assert d.wait_event("start")["mode"] == "poll"
        recs = training_records(120, status=None)
        rd = write_run(runs, "poll0001", recs, project="p-poll")
        d.wait_for(lambda e: e.get("run") == "poll0001" and e.get("seq") == len(recs) - 1,
                   "the first segment synced")
        more: list[tuple[int, float, Any]] = [
            (R.HISTORY, T0 + 10 + s, {"step": 120 + s, "data": {"loss": 0.5, "acc": 0.5}})
            for s in range(30)
        ]
        more.append((R.EXIT, T0 + 60, {"code": 0, "status": "finished", "runtime": 60}))
        append_segment(rd, more, base_seq=len(recs))
        d.wait_event("finished", "poll0001")
        assert d.terminate() == 0
    assert_exact(mlflow_uri, "p-poll", rd, ("loss", "acc"))


def test_bad_run_dir_reported_once_and_others_sync(tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    good = write_run(runs, "good0001", training_records(100), project="p-bad")
    broken = runs / "broken"
    (broken / "log").mkdir(parents=True)
    seg = broken / "log" / "00000000000000000000.seg"
    seg.write_bytes(b"garbage" * 20)
    (runs / "badjson").mkdir()
    (runs / "badjson" / "run.json").write_text("{not json")
    (runs / "notes.txt").write_text("not a run")
    (runs / "empty-dir").mkdir()
    with syncd(tmp_path, str(runs), "--to", mlflow_uri) as d:
        d.wait_event("finished", "good0001")
        d.wait_event("failed", "broken")
        d.wait_event("failed", "badjson")
        with open(seg, "ab") as fh:  # a change to the bad run: a pass, but no second report
            fh.write(b"more garbage")
        later = write_run(runs, "late0001", training_records(40), project="p-bad")
        d.wait_event("finished", "late0001")
        time.sleep(0.5)
        assert d.proc.poll() is None
        assert d.terminate() == 0
        events = d.events()
    failed = [e["run"] for e in events if e["event"] == "failed"]
    assert sorted(failed) == ["badjson", "broken"]
    assert events[-1]["failed"] == ["badjson", "broken"]
    assert not any(e.get("run") in ("notes.txt", "empty-dir") for e in events)
    assert_exact(mlflow_uri, "p-bad", good, ("loss",))
    assert_exact(mlflow_uri, "p-bad", later, ("loss",))


# ---------------------------------------------------------------------------
# the scheduling rules, stepped by hand


def ok(records: int = 10, seq: int = 10, finished: bool = False) -> SyncResult:
    return SyncResult(run_dir="r", run_id="r", status="partial", records=records, points=records,
                      last_seq=seq, finished=finished)


def down() -> SyncResult:
    return SyncResult(run_dir="r", run_id="r", status="failed", reason="refused",
                      retryable=True)


def test_schedule_debounces_a_burst_and_passes_again_after_a_change(tmp_path: Path) -> None:
    s = Schedule(tmp_path, debounce=0.1)
    for i in range(50):
        s.notify("a", i * 0.001)
    assert s.take(0.05) == []  # counted from the first change: due at 0.1
    assert s.next_wake(0.05) == pytest.approx(0.05)
    (slot,) = s.take(0.1)
    assert slot.path == tmp_path / "a"
    s.notify("a", 0.2)  # changed while its pass runs
    assert s.take(1.0) == []  # one pass per run at a time
    s.done(slot, ok(), 0.35)
    (again,) = s.take(0.35)  # exactly one more pass
    s.done(again, ok(records=0), 0.4)
    assert s.take(10.0) == [] and s.idle()


def test_schedule_bounds_passes_by_workers(tmp_path: Path) -> None:
    s = Schedule(tmp_path, workers=3, debounce=0)
    for name in "abcdefg":
        s.notify(name, 0.0)
    first = s.take(0.0)
    assert len(first) == 3 and s.take(0.0) == []
    assert s.next_wake(0.0) is None  # full: only a finished pass frees a worker
    s.done(first[0], ok(), 1.0)
    assert len(s.take(1.0)) == 1


def test_schedule_backs_off_probes_alone_and_catches_up(tmp_path: Path) -> None:
    s = Schedule(tmp_path, workers=4, debounce=0, backoff=Backoff(base=1.0, cap=8.0),
                 rng=random.Random(1))
    for name in "abc":
        s.notify(name, 0.0, initial=True)
    a, b, c = s.take(0.0)
    (ev,) = s.done(a, down(), 1.0)
    assert ev.kind == "server_down"
    assert s.done(b, down(), 1.0) == []  # logged once, not per run
    s.notify("d", 1.0, initial=True)
    assert s.take(1.0) == []  # while down: one pass at a time (c is still running)
    assert s.done(c, down(), 1.0) == []
    (d,) = s.take(1.0)  # the probe; a, b, c wait for their backoff
    assert s.take(100.0) == []  # all due now, but the probe is still out
    for failures in range(1, 12):  # equal jitter: never below half, never above the cap
        delay = s.backoff.delay(failures)
        step = min(8.0, 2.0 ** (failures - 1))
        assert step / 2 <= delay <= step
    events = s.done(d, ok(records=5), 2.0)
    assert [e.kind for e in events] == ["server_up", "synced"]
    assert events[0].fields["waiting"] == 3  # a, b and c retry at once
    assert {x.name for x in s.take(2.0)} == {"a", "b", "c"}


def test_schedule_reports_a_bad_run_once_and_rate_limits_progress(tmp_path: Path) -> None:
    s = Schedule(tmp_path, debounce=0, log_every=10.0)
    bad = SyncResult(run_dir="x", run_id="x", status="failed", reason="unreadable run.json")
    kinds = []
    for t in range(3):
        s.notify("x", float(t))
        (slot,) = s.take(float(t))
        kinds += [e.kind for e in s.done(slot, bad, float(t))]
    assert kinds == ["discovered", "failed"]
    assert s.failed == {"x"}

    seqs = []
    for t, seq in ((0.0, 10), (1.0, 20), (2.0, 30)):
        s.notify("y", t, initial=True)
        (slot,) = s.take(t)
        seqs += [e.fields["seq"] for e in s.done(slot, ok(seq=seq), t) if e.kind == "synced"]
    assert seqs == [10]  # then held back ...
    assert [e.fields["seq"] for e in s.progress_lines(5.0)] == []
    assert [e.fields["seq"] for e in s.progress_lines(11.0)] == [30]  # ... never dropped
    s.notify("y", 12.0)
    (slot,) = s.take(12.0)
    assert [e.kind for e in s.done(slot, ok(seq=31, finished=True), 12.0)] == ["finished"]


def test_schedule_leaves_a_busy_run_and_looks_again(tmp_path: Path) -> None:
    s = Schedule(tmp_path, debounce=0)
    busy = SyncResult(run_dir="z", run_id="z", status="skipped",
                      reason="busy: process 42 is syncing this run to this server", busy=True)
    s.notify("z", 0.0, initial=True)
    (slot,) = s.take(0.0)
    assert [e.kind for e in s.done(slot, busy, 0.0)] == ["busy"]
    s.notify("z", 1.0)  # the live run writes: no earlier look
    assert s.take(1.0) == [] and s.next_wake(1.0) == BUSY_RETRY - 1.0
    (slot,) = s.take(BUSY_RETRY)
    assert s.done(slot, busy, BUSY_RETRY) == []  # said once
    assert not s.runs["z"].finished
    (slot,) = s.take(2 * BUSY_RETRY)  # the follower is gone: the run is looked at again
    done = SyncResult(run_dir="z", run_id="z", status="skipped", reason="already synced",
                      finished=True)
    assert s.done(slot, done, 2 * BUSY_RETRY) == [] and s.runs["z"].finished
    assert s.idle()


def test_schedule_defers_artifact_uploads_but_not_for_long(tmp_path: Path) -> None:
    s = Schedule(tmp_path, debounce=0.05)
    pending = ok()
    pending.artifacts_pending = True
    s.notify("c", 0.0, initial=True)
    (slot,) = s.take(0.05)
    assert slot.artifacts == "defer"
    s.done(slot, pending, 0.1)
    assert s.next_wake(0.1) == pytest.approx(ARTIFACT_INTERVAL)  # the run went quiet
    s.notify("c", 1.0)  # a change: synced now, the upload still waits
    (slot,) = s.take(1.05)
    assert slot.artifacts == "defer"
    s.done(slot, pending, 1.1)
    assert s.take(ARTIFACT_INTERVAL) == []
    (slot,) = s.take(ARTIFACT_INTERVAL + 0.1)
    assert slot.artifacts == "flush"
    s.done(slot, ok(records=0), ARTIFACT_INTERVAL + 0.2)
    assert s.idle() and s.next_wake(100.0) is None
    # stopping: whatever is still deferred is handed out for a last upload
    s.notify("c", 200.0)
    (slot,) = s.take(201.0)
    s.done(slot, pending, 201.0)
    (last,) = s.flush_all()
    assert last.artifacts == "flush" and s.take(1e9) == []


def test_daemon_threads_run_passes_and_stop(tmp_path: Path) -> None:
    for name in ("r1", "r2"):
        (tmp_path / name / "log").mkdir(parents=True)
    (tmp_path / "stray").mkdir()  # not a run: no pass, no line
    calls: list[str] = []
    events: list[Event] = []
    lock = threading.Lock()

    def run_pass(path: Path, artifacts: str) -> SyncResult:
        with lock:
            calls.append(path.name)
        if path.name == "r2":
            raise RuntimeError("boom")  # a bug in a pass must not end the daemon
        return ok()

    daemon = Daemon(Schedule(tmp_path, workers=2, debounce=0.01), run_pass, events.append)
    stop = threading.Event()
    loop = threading.Thread(target=daemon.run, args=(stop,), name="test-syncd-loop")
    loop.start()
    try:
        for name in ("r1", "r2", "stray"):
            daemon.notify(name)
        end = time.monotonic() + 30
        # both passes over, not just started: their events come before "stopping"
        while (len(calls) < 2 or daemon.schedule.in_flight
               or not any(e.kind == "failed" for e in events)) and time.monotonic() < end:
            time.sleep(0.01)
    finally:
        stop.set()
        loop.join(30)
    assert not loop.is_alive() and daemon.stuck == 0
    assert sorted(calls) == ["r1", "r2"]
    failed = [e for e in events if e.kind == "failed"]
    assert len(failed) == 1 and "internal error: RuntimeError: boom" in failed[0].message
    assert events[-1].kind == "stopping"


# ---------------------------------------------------------------------------
# the watcher


def test_watcher_events_name_the_run_and_ignore_sync_dir(tmp_path: Path) -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def note(name: str) -> None:
        with lock:
            seen.append(name)

    old = write_run(tmp_path, "old1", training_records(3))
    w = Watcher(tmp_path, note, mode="events", safety_interval=3600)
    try:
        assert w.start() == ["old1"]
        (old / "sync").mkdir()
        (old / "sync" / "ckpt.json").write_text("{}")  # the syncer's own writes
        write_run(tmp_path, "new1", training_records(3))
        end = time.monotonic() + 30
        while "new1" not in seen and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        w.close()
    assert "new1" in seen and "old1" not in seen
    # a scan notices the same change without events
    p = Watcher(tmp_path, note, mode="poll")
    assert p.scan() == ["new1", "old1"] and p.scan() == []
    append_segment(old, [(R.HISTORY, T0, {"step": 9, "data": {"loss": 1.0}})], base_seq=100)
    assert p.scan() == ["old1"]


def test_auto_mode_polls_on_network_filesystems(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw 0 0\n"
        f"server:/export {tmp_path / 'nfs'} nfs4 rw 0 0\n"
        f"lustre@o2ib:/fs {tmp_path / 'lus'} lustre rw 0 0\n"
        f"sshfs#h:/d {tmp_path / 'fuse'} fuse.sshfs rw 0 0\n"
    )
    for sub in ("nfs/runs", "lus", "fuse", "local"):
        (tmp_path / sub).mkdir(parents=True)
    assert mount_type(tmp_path / "nfs" / "runs", str(mounts)) == "nfs4"
    assert mount_type(tmp_path / "local", str(mounts)) == "ext4"
    assert mount_type(tmp_path / "lus", str(mounts)) == "lustre"
    assert choose_mode("events", tmp_path / "nfs", str(mounts)) == ("events", "--watch events")
    assert choose_mode("poll", tmp_path / "local", str(mounts))[0] == "poll"
    for sub, want in (("nfs/runs", "poll"), ("lus", "poll"), ("fuse", "poll"),
                      ("local", "events")):
        assert choose_mode("auto", tmp_path / sub, str(mounts))[0] == want, sub


def test_watcher_falls_back_to_polling_without_inotify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syncer.daemon.watch

    class NoInotify(syncer.daemon.watch.Observer):
        def start(self) -> None:
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(syncer.daemon.watch, "Observer", NoInotify)
    seen: list[str] = []
    w = Watcher(tmp_path, seen.append, mode="events", poll_interval=0.05)
    try:
        assert w.start() == []
        assert w.mode == "poll" and "inotify watch limit reached" in w.fallback
        write_run(tmp_path, "late1", training_records(2))
        end = time.monotonic() + 30
        while not seen and time.monotonic() < end:
            time.sleep(0.02)
    finally:
        w.close()
    assert set(seen) == {"late1"}


# ---------------------------------------------------------------------------
# shared runs: every stream of a run, streams that appear later


def add_stream(run: Path, label: str, steps: int, *, finished: bool = True) -> Path:
    """A non-primary stream ``streams/<label>`` of the shared run ``run``."""
    records = training_records(steps, status="finished" if finished else None)
    head = records[0]
    records[0] = (head[0], head[1], {**head[2], "stream": {"label": label, "primary": False}})
    stream = write_run(run / "streams", label, records)
    (stream / "run.json").unlink()  # a stream's identity is its run's
    return stream


def test_watcher_follows_streams_and_ignores_their_sync_dirs(tmp_path: Path) -> None:
    run = write_run(tmp_path, "shared1", training_records(3))
    p = Watcher(tmp_path, lambda name: None, mode="poll")
    assert p.scan() == ["shared1"] and p.scan() == []
    stream = add_stream(run, "rank_1", 3)
    assert p.scan() == ["shared1"]  # a new stream
    append_segment(stream, [(R.HISTORY, T0, {"step": 9, "data": {"loss": 1.0}})],
                   base_seq=100)
    assert p.scan() == ["shared1"]  # a stream that grew
    w = Watcher(tmp_path, lambda name: None, mode="events")
    assert w.run_of(str(stream / "sync" / "ckpt.json")) is None  # the syncer's own
    assert w.run_of(str(stream / "log" / "x.seg")) == "shared1"
    single = Watcher(run, lambda name: None, mode="events", single=True)
    assert single.run_of(str(stream / "sync" / "ckpt.json")) is None
    assert single.run_of(str(stream / "log" / "x.seg")) == "shared1"


def test_syncd_syncs_every_stream_of_a_shared_run_and_streams_that_come_later(
        tmp_path: Path, mlflow_uri: str) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "shsyncd", training_records(30), project="p-shared")
    add_stream(run, "rank_1", 30)
    with syncd(tmp_path, str(runs), "--to", mlflow_uri, "--watch", "poll",
               "--poll-interval", "0.2") as d:
        d.wait_event("finished", "shsyncd")
        (srv,) = runs_tagged(mlflow_uri, "p-shared", "shsyncd")
        end = time.monotonic() + WAIT
        while len(client(mlflow_uri).get_metric_history(srv.info.run_id, "rank_1/loss")) < 30:
            assert time.monotonic() < end, "stream rank_1 never reached the server"
            time.sleep(0.1)
        add_stream(run, "rank_2", 20)  # a rank that started late
        while len(client(mlflow_uri).get_metric_history(srv.info.run_id, "rank_2/loss")) < 20:
            assert time.monotonic() < end, "the late stream rank_2 never reached the server"
            time.sleep(0.1)
        assert d.terminate() == 0
    assert len(runs_tagged(mlflow_uri, "p-shared", "shsyncd")) == 1
    assert len(client(mlflow_uri).get_metric_history(srv.info.run_id, "loss")) == 30
