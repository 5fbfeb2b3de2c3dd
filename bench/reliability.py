"""Reliability harness: faults, kills and hostile inputs, each ending with server == WAL.

Run by hand (never by pytest)::

    .venv/bin/python bench/reliability.py --trials 20 --out bench/results/reliability.json

Sections (``--sections abcdefg``; docs/RELIABILITY.md says what each proves):

a. lost answers: one fault (drop = applied then reset, reset, 503, 429, slow,
   truncate) on one request kind at a random occurrence, through
   tests/faultproxy.py; sync, heal the proxy, sync again; count duplicate
   server runs, missing/duplicate points, runs left RUNNING.
b. kill -9 of ``runwal sync`` of a big run at random moments until a sync
   exits 0; exactly once after; kills that made no checkpoint progress.
c. kill -9 of a writer (tests/crash_child.py paced) at 10, 1k rows/s and full
   speed: acknowledged rows not on disk, and the age of the oldest of them.
d. every tests/hostile.py case through every CLI command: tracebacks,
   errors that are not one line, hangs, good rows lost next to a bad record,
   files from outside the run uploaded; one batch sync of a good run among
   all the bad ones.
e. two processes ``init(id=SAME, resume="allow")`` logging at once: records
   on disk vs acknowledged.
f. power cuts (needs FUSE: tests/powercutfs.py): a writer logging at 10, 1k
   rows/s and full speed (tests/crash_child.py paced, default flush interval
   and fsync), killed and cut at a random moment, with a lost tail dropped or
   zero-filled (``--torn``); run dir and run.json survived, damage reported,
   acknowledged rows lost and how old the oldest of them was.
g. one flipped byte in finished runs of 100, 1,000 and 20,000 steps (past the
   32-byte segment header): the share of the run lost, and whether
   ``runwal verify`` called it damage and counted exactly what was lost.

Only stable interfaces are used: the ``runwal`` CLI (``python -m syncer.cli``)
and the SDK in child processes, LocalMlflowServer, tests/faultproxy.py,
tests/syncutil.py, tests/crash_child.py, tests/hostile.py, and MlflowClient to
read the server back. One fresh MLflow server is shared by all sections.
Prints a Markdown table (each section's rows as soon as it ends) and writes
the raw per-trial numbers to ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

import hostile  # noqa: E402
from faultproxy import FaultProxy, always_pass  # noqa: E402
from powercut import powercut_mount  # noqa: E402
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer  # noqa: E402
from syncutil import R, client, runs_tagged, training_records, write_run  # noqa: E402

PY = sys.executable
ENV = {k: v for k, v in os.environ.items()
       if k not in ("RUNWAL_SERVER", "MLFLOW_TRACKING_URI", "RUNWAL_MODE")}
ENV["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO / "tests"),
                                     os.environ.get("PYTHONPATH", "")])
ENV.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
TRACEBACK = "Traceback (most recent call last)"
KEYS = ("loss", "acc")


# ---------------------------------------------------------------- plumbing


class Done:
    """A finished child: exit status, output, wall time, and whether it hung."""

    def __init__(self, rc: int | None, out: str, err: str, wall: float, hung: bool = False):
        self.rc, self.out, self.err, self.wall, self.hung = rc, out, err, wall, hung


def runwal(*args: str, timeout: float = 300.0) -> Done:
    """``runwal ARGS`` as a child process (``python -m syncer.cli``)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([PY, "-m", "syncer.cli", *args], capture_output=True, text=True,
                           errors="replace", env=ENV, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return Done(None, out, err, time.monotonic() - t0, hung=True)
    return Done(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def dump_history(rd: Path) -> tuple[list[dict[str, Any]], Done]:
    """History lines of ``runwal dump RUN --type history`` (lines that parse)."""
    done = runwal("dump", str(rd), "--type", "history")
    rows = []
    for line in done.out.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("data"), dict):
            rows.append(obj)
    return rows, done


def tail(text: str, n: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-n:])[:400]


def uid(rng: random.Random) -> str:
    return f"{rng.getrandbits(32):08x}"


def median(xs: Iterable[float]) -> float:
    xs = list(xs)
    return statistics.median(xs) if xs else 0.0


def worst(xs: Iterable[float]) -> float:
    xs = list(xs)
    return max(xs) if xs else 0.0


def fmt(x: float, unit: str = "") -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.3f}{unit}"
    return f"{int(x):,}{unit}"


# ---------------------------------------------------------------- server == WAL


def expected_points(steps: int, keys: Iterable[str] = KEYS) -> set[tuple[str, int, float]]:
    """The points syncutil.training_records(steps, keys) holds."""
    return {(k, s, float(s) + i / 10) for i, k in enumerate(keys) for s in range(steps)}


def server_vs_wal(uri: str, project: str, run_id: str, expected: set[tuple[str, int, float]],
                  keys: Iterable[str] = KEYS) -> dict[str, Any]:
    """What the server holds for one runwal run, compared with its WAL."""
    runs = runs_tagged(uri, project, run_id)
    c = client(uri)
    points: list[tuple[str, int, float]] = []
    for run in runs:
        for key in keys:
            points += [(key, m.step, m.value) for m in c.get_metric_history(run.info.run_id, key)]
    seen = Counter(points)
    return {
        "server_runs": len(runs),
        "duplicate_runs": max(0, len(runs) - 1),
        "running": sum(r.info.status == "RUNNING" for r in runs),
        "not_finished": sum(r.info.status != "FINISHED" for r in runs) + (not runs),
        "missing_points": len(expected - set(seen)),
        "duplicate_points": sum(n - 1 for n in seen.values() if n > 1),
        "extra_points": len(set(seen) - expected),
        "server_run_ids": [r.info.run_id for r in runs],
        # the run a reader would take as the real one: a FINISHED one if any
        "main_run_id": next((r.info.run_id for r in runs if r.info.status == "FINISHED"),
                            runs[0].info.run_id if runs else None),
    }


def artifact_paths(uri: str, server_run_id: str) -> set[str]:
    """Every artifact path of a server run, recursively."""
    import httpx

    out: set[str] = set()
    todo = [""]
    while todo:
        path = todo.pop()
        params = {"run_id": server_run_id}
        if path:
            params["path"] = path
        try:
            files = httpx.get(f"{uri}/api/2.0/mlflow/artifacts/list", params=params,
                              timeout=30).json().get("files", [])
        except (httpx.HTTPError, ValueError):
            continue
        for f in files:
            (todo.append if f.get("is_dir") else out.add)(f["path"])
    return out


def checkpoint_seq(rd: Path) -> int | None:
    """The highest acknowledged seq among the run's sync/*.json checkpoints."""
    best = None
    for p in (rd / "sync").glob("*.json"):
        try:
            seq = int(json.loads(p.read_text()).get("seq"))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        best = seq if best is None else max(best, seq)
    return best


# ---------------------------------------------------------------- the table


class Table:
    HEAD = ("section", "what", "trials", "worst loss", "median loss", "duplicates", "failures",
            "command")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, *cells: Any) -> None:
        row = tuple(str(c).replace("|", "\\|") for c in cells)
        self.rows.append(row)
        print(self.line(row), flush=True)

    @staticmethod
    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    def markdown(self) -> str:
        return "\n".join([self.line(self.HEAD), self.line("---" for _ in self.HEAD),
                          *(self.line(r) for r in self.rows)])


# ---------------------------------------------------------------- a. lost answers


REQUEST_KINDS: dict[str, Callable[[str, str], bool]] = {
    "experiments/create": lambda m, p: "/experiments/create" in p,
    "runs/create": lambda m, p: "/runs/create" in p,
    "runs/search": lambda m, p: "/runs/search" in p,
    "log-batch": lambda m, p: "/runs/log-batch" in p,
    "runs/update": lambda m, p: "/runs/update" in p,
    "artifacts PUT": lambda m, p: m == "PUT" and "mlflow-artifacts" in p,
}
ACTIONS = ("drop", "reset", "status:503", "status:429", "slow:3", "truncate")
A_STEPS = 1500
A_ARTIFACTS = {"notes.txt", "output.log"}


def nth_rule(kind: str, k: int, action: str) -> tuple[Callable[[int, str, str], str], list[int]]:
    """``action`` on the k-th request of ``kind`` (once), pass otherwise."""
    match = REQUEST_KINDS[kind]
    seen = [0]
    lock = threading.Lock()

    def rule(n: int, method: str, path: str) -> str:
        if not match(method, path):
            return "pass"
        with lock:
            seen[0] += 1
            return action if seen[0] == k else "pass"

    return rule, seen


def a_run(root: Path, run_id: str, project: str) -> Path:
    recs = training_records(A_STEPS, KEYS)
    recs.insert(-1, (R.CONSOLE, recs[-1][1], {"stream": "stdout", "text": "epoch done\n"}))
    recs.insert(-1, (R.FILE, recs[-1][1], {"path": "notes.txt", "size": 6,
                                           "sha256": hashlib.sha256(b"hello\n").hexdigest(),
                                           "policy": "now"}))
    rd = write_run(root, run_id, recs, project=project)
    (rd / "files" / "notes.txt").write_text("hello\n")
    return rd


def section_a(ctx: Ctx) -> None:
    root = ctx.tmp / "a"
    root.mkdir()
    deadline = "10"
    # How many requests of each kind one healthy sync sends (the occurrence range).
    cal = a_run(root, "a-cal-" + uid(ctx.rng), "rel-a-cal-" + uid(ctx.rng))
    with FaultProxy(ctx.uri) as proxy:
        done = runwal("sync", str(cal), "--to", proxy.uri, "--deadline", deadline)
        counts = Counter(kind for _, m, p, _ in proxy.log
                         for kind, match in REQUEST_KINDS.items() if match(m, p))
    ctx.raw["a_calibration"] = {"rc": done.rc, "requests": dict(counts)}
    combos = list(itertools.product(REQUEST_KINDS, ACTIONS))
    ctx.rng.shuffle(combos)
    trials: list[dict[str, Any]] = []
    for t in range(ctx.trials_a):
        kind, action = combos[t % len(combos)]
        k = ctx.rng.randint(1, max(1, counts.get(kind, 0)))
        run_id, project = f"a{t}-{uid(ctx.rng)}", f"rel-a-{t}-{uid(ctx.rng)}"
        rd = a_run(root, run_id, project)
        rule, seen = nth_rule(kind, k, action)
        with FaultProxy(ctx.uri, rule) as proxy:
            first = runwal("sync", str(rd), "--to", proxy.uri, "--deadline", deadline)
            fired = sum(1 for *_, act in proxy.log if act != "pass")
            proxy.rule = always_pass
            second = runwal("sync", str(rd), "--to", proxy.uri, "--deadline", deadline)
        state = server_vs_wal(ctx.uri, project, run_id, expected_points(A_STEPS))
        arts = artifact_paths(ctx.uri, state["main_run_id"]) if state["main_run_id"] else set()
        trial = {"kind": kind, "action": action, "occurrence": k, "fired": fired,
                 "kind_requests_seen": seen[0], "rc_fault": first.rc, "rc_healed": second.rc,
                 "missing_artifacts": len(A_ARTIFACTS - arts),
                 "tracebacks": (TRACEBACK in first.err) + (TRACEBACK in second.err),
                 "stderr_fault": tail(first.err), "stdout_healed": tail(second.out),
                 **state}
        trials.append(trial)
        bad = (state["duplicate_runs"] or state["missing_points"] or state["duplicate_points"]
               or state["not_finished"] or second.rc != 0 or trial["missing_artifacts"])
        if ctx.verbose or bad:
            print(f"  a{t}: {kind} #{k} {action} fired={fired} rc={first.rc}/{second.rc} "
                  f"runs={state['server_runs']} running={state['running']} "
                  f"missing={state['missing_points']} dup={state['duplicate_points']} "
                  f"missing_artifacts={trial['missing_artifacts']}", flush=True)
    ctx.raw["a"] = trials
    cmd = (f"`runwal sync RUN --to PROXY --deadline {deadline}` (1 fault), proxy healed, "
           "same command again")
    for kind in [*REQUEST_KINDS, "all"]:
        ts = [t for t in trials if kind in ("all", t["kind"])]
        if not ts:
            continue
        what = (f"lost answers, all kinds x {len(ACTIONS)} actions" if kind == "all" else
                f"lost answer: {kind} ({counts.get(kind, 0)}/sync)")
        ctx.table.add(
            "a", what, f"{len(ts)} ({sum(t['fired'] > 0 for t in ts)} faults fired)",
            fmt(worst(t["missing_points"] for t in ts), " points"),
            fmt(median(t["missing_points"] for t in ts), " points"),
            f"{sum(t['duplicate_runs'] for t in ts)} runs "
            f"({sum(t['duplicate_runs'] > 0 for t in ts)} trials), "
            f"{sum(t['duplicate_points'] for t in ts)} points",
            f"left RUNNING {sum(t['running'] > 0 for t in ts)}, healed sync rc!=0 "
            f"{sum(t['rc_healed'] != 0 for t in ts)}, artifacts missing "
            f"{sum(t['missing_artifacts'] > 0 for t in ts)}, tracebacks "
            f"{sum(t['tracebacks'] for t in ts)}",
            cmd if kind == "all" else "")


# ---------------------------------------------------------------- b. kill -9 the syncer


def section_b(ctx: Ctx) -> None:
    root = ctx.tmp / "b"
    root.mkdir()
    steps = max(1, ctx.big_points // len(KEYS))
    expected = expected_points(steps)
    deadline = "30"

    def sync_cmd(rd: Path) -> list[str]:
        return [PY, "-m", "syncer.cli", "sync", str(rd), "--to", ctx.uri, "--deadline", deadline]

    # One uninterrupted sync of the same size: the kill window and a no-fault baseline.
    cal_id, project = "b-cal-" + uid(ctx.rng), "rel-b"
    cal = write_run(root, cal_id, training_records(steps, KEYS), project=project)
    t0 = time.monotonic()
    # (seconds since start, seq) each time the checkpoint advances in a clean sync
    advances: list[tuple[float, int]] = []
    cal_proc = subprocess.Popen(sync_cmd(cal), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=ENV)
    while cal_proc.poll() is None:
        seq = checkpoint_seq(cal)
        if seq is not None and (not advances or seq > advances[-1][1]):
            advances.append((time.monotonic() - t0, seq))
        time.sleep(0.02)
    full = time.monotonic() - t0
    # The longest a clean sync goes without advancing its checkpoint (start, advances, end):
    # a kill later than 1.5x that and still no progress means a resumed sync is stuck.
    marks = [0.0, *(a for a, _ in advances), full]
    gap = max(b - a for a, b in itertools.pairwise(marks))
    stuck_after = 1.5 * gap
    ctx.raw["b_calibration"] = {"rc": cal_proc.returncode, "checkpoint_advances": advances,
                                "longest_gap_s": gap,
                                "seconds": full, "points": len(expected),
                                **server_vs_wal(ctx.uri, project, cal_id, expected)}
    trials: list[dict[str, Any]] = []
    for t in range(ctx.trials_b):
        run_id = f"b{t}-{uid(ctx.rng)}"
        rd = write_run(root, run_id, training_records(steps, KEYS), project=project)
        kills: list[dict[str, Any]] = []
        failures: list[str] = []
        final_rc = None
        for attempt in range(ctx.max_kills + 1):
            before = checkpoint_seq(rd)
            delay = ctx.rng.uniform(0.3, full) if attempt < ctx.max_kills else None
            log = root / f"{run_id}.{attempt}.err"
            with open(log, "w") as err:
                p = subprocess.Popen(sync_cmd(rd), stdout=subprocess.DEVNULL, stderr=err, env=ENV,
                                     start_new_session=True)
                try:
                    rc = p.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    after = checkpoint_seq(rd)
                    kills.append({"after_s": delay, "seq_before": before, "seq_after": after,
                                  "progress": (after or -1) > (before or -1)})
                    continue
            if rc == 0:
                final_rc = 0
                break
            failures.append(f"rc={rc}: {tail(log.read_text())}")
        state = server_vs_wal(ctx.uri, project, run_id, expected)
        no_progress = [k for k in kills if not k["progress"]]
        stuck = [k for k in no_progress if k["after_s"] > stuck_after]
        trial = {"kills": len(kills), "hit_kill_cap": len(kills) >= ctx.max_kills,
                 "no_progress_kills": len(no_progress),
                 "stuck_kills": len(stuck),
                 "longest_alive_without_progress_s": worst(k["after_s"] for k in no_progress),
                 "final_rc": final_rc, "failed_syncs": failures, "kill_log": kills, **state}
        trials.append(trial)
        print(f"  b{t}: kills={len(kills)} no_progress={len(no_progress)} "
              f"stuck={len(stuck)} rc={final_rc} "
              f"runs={state['server_runs']} missing={state['missing_points']} "
              f"dup={state['duplicate_points']} not_finished={state['not_finished']}", flush=True)
    ctx.raw["b"] = trials
    kills = sum(t["kills"] for t in trials)
    ctx.table.add(
        "b", f"kill -9 of the syncer, {len(expected):,}-point run (full sync {full:.1f} s)",
        f"{len(trials)} ({kills} kills)",
        fmt(worst(t["missing_points"] for t in trials), " points"),
        fmt(median(t["missing_points"] for t in trials), " points"),
        f"{sum(t['duplicate_runs'] for t in trials)} runs, "
        f"{sum(t['duplicate_points'] for t in trials)} points",
        f"kills with no checkpoint progress {sum(t['no_progress_kills'] for t in trials)}/{kills}, "
        f"of which alive > 1.5x the longest gap between checkpoints of a clean sync "
        f"({gap:.1f} s) "
        f"{sum(t['stuck_kills'] for t in trials)} (longest alive without progress "
        f"{worst(t['longest_alive_without_progress_s'] for t in trials):.1f} s), not FINISHED "
        f"{sum(t['not_finished'] > 0 for t in trials)}, trials still unsynced after "
        f"{ctx.max_kills} kills (then synced unkilled) {sum(t['hit_kill_cap'] for t in trials)}, "
        f"never exit 0 {sum(t['final_rc'] != 0 for t in trials)}, failed syncs "
        f"{sum(len(t['failed_syncs']) for t in trials)}",
        f"`runwal sync RUN --to URI --deadline {deadline}`, SIGKILL after U(0.3, {full:.1f}) s, "
        "repeated until exit 0")


# ---------------------------------------------------------------- c. kill -9 the writer


def read_side(path: Path) -> list[tuple[int, float]]:
    """Complete "step monotonic" lines of crash_child's side file."""
    out = []
    data = path.read_text() if path.exists() else ""
    for line in data.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        step, mono = line.split()
        out.append((int(step), float(mono)))
    return out


RATES = (10, 1000, 0)  # rows/s of the paced writer in sections c and f; 0: as fast as it can


def by_rate(trials: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(a label for the rate, its trials) for each of `RATES`, for the table rows."""
    for rate in RATES:
        yield (f"{rate} rows/s" if rate else "full speed",
               [t for t in trials if t["rate"] == rate])


def kill_paced_writer(ctx: Ctx, runs: Path, run_id: str, side: Path, rate: int, lo: float,
                      hi: float) -> tuple[float, float, bytes]:
    """`crash_child.py paced` logging ``rate`` rows/s into ``runs``, SIGKILLed U(lo, hi) s
    after its first acknowledged row: (that delay, the kill's monotonic time, stderr)."""
    p = subprocess.Popen([PY, str(REPO / "tests" / "crash_child.py"), "paced", str(runs),
                          run_id, f"{side}:{rate}"], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    t_end = time.monotonic() + 30
    while not (side.exists() and side.stat().st_size) and time.monotonic() < t_end:
        if p.poll() is not None:
            break
        time.sleep(0.005)
    delay = ctx.rng.uniform(lo, hi)
    time.sleep(delay)
    os.killpg(p.pid, signal.SIGKILL)
    killed = time.monotonic()
    _, err = p.communicate()
    return delay, killed, err


def acked_loss(acked: dict[int, float], rows: list[dict[str, Any]], killed: float
               ) -> tuple[list[int], float, int]:
    """Acknowledged steps not among the dumped ``rows``, the age at ``killed`` of the
    oldest of them, and holes (lost steps older than the newest one kept)."""
    on_disk = {int(r["data"]["step_copy"]) for r in rows
               if isinstance(r["data"].get("step_copy"), int)}
    lost = [s for s in acked if s not in on_disk]
    window = killed - min(acked[s] for s in lost) if lost else 0.0
    last_disk = max(on_disk) if on_disk else -1
    holes = sum(1 for s in acked if s < last_disk and s not in on_disk)
    return lost, window, holes


def section_c(ctx: Ctx) -> None:
    root = ctx.tmp / "c"
    root.mkdir()
    trials: list[dict[str, Any]] = []
    lo, hi = 0.3, 2.5
    for rate in RATES:
        for t in range(ctx.trials_c):
            run_id = f"c{rate}-{t}-{uid(ctx.rng)}"
            side = root / f"{run_id}.side"
            delay, killed, err = kill_paced_writer(ctx, root, run_id, side, rate, lo, hi)
            acked = dict(read_side(side))
            rows, dumped = dump_history(root / run_id)
            lost, lost_s, holes = acked_loss(acked, rows, killed)
            span = max(acked.values()) - min(acked.values()) if len(acked) > 1 else 0.0
            trial = {"rate": rate, "kill_after_s": delay, "acked": len(acked),
                     "lost_records": len(lost), "lost_seconds": lost_s, "holes": holes,
                     "log_rate_per_s": len(acked) / span if span else 0.0,
                     "dump_rc": dumped.rc, "dump_traceback": TRACEBACK in dumped.err,
                     "child_stderr": tail(err.decode(errors="replace"))}
            trials.append(trial)
            print(f"  c rate={rate or 'max'}: acked={len(acked)} lost={len(lost)} "
                  f"({lost_s:.3f} s at {trial['log_rate_per_s']:,.0f}/s) holes={holes} "
                  f"dump rc={dumped.rc}", flush=True)
    ctx.raw["c"] = trials
    cmd = (f"`python tests/crash_child.py paced ROOT ID SIDE:RATE` (default flush interval "
           f"0.1 s), SIGKILL after U({lo}, {hi}) s; `runwal dump ROOT/ID --type history`")
    for speed, group in by_rate(trials):
        fails = (f"acked rows missing below the last one on disk "
                 f"{sum(t['holes'] for t in group)}, dump rc!=0 "
                 f"{sum(t['dump_rc'] != 0 for t in group)}; log rate median "
                 f"{median(t['log_rate_per_s'] for t in group):,.0f}/s")
        ctx.table.add("c", f"kill -9 of a writer at {speed}: loss window (age of the oldest "
                      "acknowledged row lost)", len(group),
                      f"{worst(t['lost_seconds'] for t in group):.3f} s "
                      f"({worst(t['lost_records'] for t in group):.0f} rows)",
                      f"{median(t['lost_seconds'] for t in group):.3f} s", "-", fails, cmd)


# ---------------------------------------------------------------- f. power cuts


def power_cut_trial(ctx: Ctx, root: Path, run_id: str, rate: int, torn: str
                    ) -> dict[str, Any]:
    side = root / f"{run_id}.side"
    with powercut_mount(root / run_id, torn=torn) as fs:
        delay, killed, err = kill_paced_writer(ctx, fs.mount / "runs", run_id, side, rate,
                                               0.5, 3.0)
        image = fs.cut()
    rd = image / "runs" / run_id
    acked = dict(read_side(side))
    rows, dumped = dump_history(rd) if rd.is_dir() else ([], Done(2, "", "no run dir", 0.0,
                                                                   False))
    verified = runwal("verify", str(rd)) if rd.is_dir() else Done(2, "", "", 0.0, False)
    lost, window, holes = acked_loss(acked, rows, killed)
    try:
        run_json_ok = json.loads((rd / "run.json").read_text())["run_id"] == run_id
    except (OSError, ValueError, KeyError):
        run_json_ok = False
    return {"rate": rate, "torn": torn, "kill_after_s": delay, "acked": len(acked),
            "run_dir": rd.is_dir(), "run_json": run_json_ok, "lost_records": len(lost),
            "loss_window_s": window, "holes": holes, "verify_rc": verified.rc,
            "dump_rc": dumped.rc, "child_stderr": tail(err.decode(errors="replace"))}


def section_f(ctx: Ctx) -> None:
    root = ctx.tmp / "f"
    root.mkdir()
    trials: list[dict[str, Any]] = []
    for rate in RATES:
        for torn in ("drop", "zeros"):
            for t in range(ctx.trials_f):
                trial = power_cut_trial(ctx, root, f"f{rate}-{torn}-{t}-{uid(ctx.rng)}",
                                        rate, torn)
                trials.append(trial)
                print(f"  f rate={rate or 'max'} {torn}: acked={trial['acked']} "
                      f"lost={trial['lost_records']} ({trial['loss_window_s']:.3f} s) "
                      f"run_dir={trial['run_dir']} verify rc={trial['verify_rc']}", flush=True)
    ctx.raw["f"] = trials
    cmd = ("`python tests/crash_child.py paced MNT/runs ID SIDE:RATE` on tests/powercutfs.py "
           "(default flush interval 0.1 s, fsync=commit), kill -9 and cut after U(0.5, 3) s")
    for speed, group in by_rate(trials):
        fails = (f"run dir gone {sum(not t['run_dir'] for t in group)}, run.json bad "
                 f"{sum(not t['run_json'] for t in group)}, holes "
                 f"{sum(t['holes'] for t in group)}, verify rc!=0 "
                 f"{sum(t['verify_rc'] != 0 for t in group)}")
        ctx.table.add("f", f"power cut at {speed}: acknowledged loss (dropped and "
                      "zero-filled tails)", len(group),
                      f"{worst(t['loss_window_s'] for t in group):.3f} s",
                      f"{median(t['loss_window_s'] for t in group):.3f} s",
                      "-", fails, cmd)


# ---------------------------------------------------------------- g. one damaged byte

SHORT_RUN = """
import sys, logwriter
run = logwriter.init(project="g", dir=sys.argv[1], id=sys.argv[2], mode="offline")
for i in range(int(sys.argv[3])):
    logwriter.log({"loss": 1.0 / (i + 1)}, step=i)
logwriter.finish()
"""
RUN_STEPS = (100, 1000, 20_000)  # section g: runs logged as fast as the SDK goes


def damaged_byte_trial(rd: Path, clean: bytes, total: int, pos: int) -> dict[str, Any]:
    """Flip one byte of ``rd``'s only segment at ``pos``; what verify says it cost."""
    seg = next((rd / "log").glob("*.seg"))
    raw = bytearray(clean)
    raw[pos] ^= 0x5A
    seg.write_bytes(bytes(raw))
    done = runwal("verify", str(rd), "--json")
    seg.write_bytes(clean)
    report = json.loads(done.out)
    lost = total - report["records"]
    open_unknown = any(d["last_lost"] is None and d.get("last_known") is None
                       for d in report["damage"])
    return {"pos": pos, "status": report["status"], "lost_records": lost, "share": lost / total,
            "reported_lost": report["lost_records"],
            # a report is wrong when it calls damage clean, or names a count that is not
            # what was lost (an open "count unknown" is not a wrong count)
            "wrong": report["status"] != "damaged" or (
                not open_unknown and report["lost_records"] != lost)}


def section_g(ctx: Ctx) -> None:
    root = ctx.tmp / "g"
    root.mkdir()
    trials: list[dict[str, Any]] = []
    for steps in RUN_STEPS:
        run_id = f"g{steps}-{uid(ctx.rng)}"
        subprocess.run([PY, "-c", SHORT_RUN, str(root), run_id, str(steps)], env=ENV,
                       check=True, timeout=300)
        rd = root / run_id
        seg = next((rd / "log").glob("*.seg"))
        clean = seg.read_bytes()
        total = json.loads(runwal("verify", str(rd), "--json").out)["records"]
        group = []
        for _ in range(ctx.trials_g):  # any byte past the 32-byte segment header
            trial = damaged_byte_trial(rd, clean, total, ctx.rng.randrange(32, len(clean)))
            group.append(dict(trial, steps=steps, records=total, bytes=len(clean)))
        trials += group
        print(f"  g {steps} steps ({total} records, {len(clean):,} B): worst share "
              f"{worst(t['share'] for t in group):.1%}, wrong reports "
              f"{sum(t['wrong'] for t in group)}", flush=True)
        ctx.table.add(
            "g", f"one flipped byte in a finished run of {steps:,} steps ({total:,} records, "
            f"{len(clean) / steps:.1f} B/step): share of the run lost",
            len(group), f"{worst(t['share'] for t in group):.1%} "
            f"({worst(t['lost_records'] for t in group):.0f} records)",
            f"{median(t['share'] for t in group):.1%}", "-",
            f"reports wrong {sum(t['wrong'] for t in group)} (damage called clean, or a count "
            "that is not what was lost)",
            "SDK child logs 1 scalar/step flat out; flip a random byte past the segment "
            "header; `runwal verify --json`")
    ctx.raw["g"] = trials


# ---------------------------------------------------------------- d. hostile inputs


NOISE = re.compile(r"^(runwal: (note|warning): |\s*\[\d+/\d+\])")


def judge(done: Done) -> dict[str, Any]:
    """One CLI result: traceback, hang, or an error that is not one line."""
    err_lines = [ln for ln in done.err.splitlines() if ln.strip() and not NOISE.match(ln)]
    traceback_seen = TRACEBACK in done.err or TRACEBACK in done.out
    multi = (done.rc not in (0, 1, 2)) or (done.rc == 2 and len(err_lines) != 1) or (
        done.rc not in (0, None) and len(err_lines) > 1)
    return {"rc": done.rc, "traceback": traceback_seen, "hung": done.hung,
            "not_one_line": bool(multi and not done.hung), "wall": round(done.wall, 2),
            "stderr": tail(done.err, 2)}


def section_d(ctx: Ctx) -> None:
    root = ctx.tmp / "d"
    (root / "cases").mkdir(parents=True)
    (root / "tb").mkdir()
    cases = hostile.build_all(root / "cases")
    commands: dict[str, Callable[[str, Path], list[str]]] = {
        "ls": lambda n, p: ["ls", str(p)],
        "show": lambda n, p: ["show", str(p)],
        "dump": lambda n, p: ["dump", str(p)],
        "verify": lambda n, p: ["verify", str(p)],
        "export --tensorboard": lambda n, p: ["export", str(p), "--tensorboard",
                                              str(root / "tb" / n)],
        "sync --dry-run": lambda n, p: ["sync", str(p), "--dry-run"],
        "sync --to": lambda n, p: ["sync", str(p), "--to", ctx.uri, "--deadline", "5"],
    }
    jobs = [(cmd, name, path) for name, path in cases for cmd in commands]

    def one(job: tuple[str, str, Path]) -> dict[str, Any]:
        cmd, name, path = job
        done = runwal(*commands[cmd](name, path), timeout=ctx.cmd_timeout)
        res = {"case": name, "command": cmd, **judge(done)}
        if cmd == "dump" and name in hostile.NEIGHBOURS:
            good = set()
            for line in done.out.splitlines():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                data = obj.get("data") if isinstance(obj, dict) else None
                if obj.get("type") == "history" and isinstance(data, dict) and (
                        isinstance(data.get(hostile.NEIGHBOUR_KEY), float)):
                    good.add(data[hostile.NEIGHBOUR_KEY])
            res["neighbours_lost"] = 10 - len(good)
        return res

    with ThreadPoolExecutor(ctx.jobs) as pool:
        results = list(pool.map(one, jobs))
    # Leaks: what the escape cases put on the server.
    leaks: dict[str, list[str]] = {}
    for name, _ in cases:
        if name not in hostile.ESCAPE_CASES:
            continue
        run_id = hostile.run_id_for(root / "cases", name)
        for run in runs_tagged(ctx.uri, hostile.PROJECT, run_id):
            bad = sorted(a for a in artifact_paths(ctx.uri, run.info.run_id)
                         if any(m in a for m in hostile.LEAK_MARKERS))
            if bad:
                leaks[name] = bad
    # One batch: a good run among fresh copies of every bad one.
    batch_root = root / "batch"
    batch_root.mkdir()
    bad_dirs = [p for _, p in hostile.build_all(batch_root)]
    good_id, good_project = "d-good-" + uid(ctx.rng), "rel-d-batch"
    good = write_run(batch_root, good_id, training_records(200, KEYS), project=good_project)
    ordered = [*bad_dirs[: len(bad_dirs) // 2], good, *bad_dirs[len(bad_dirs) // 2:]]
    batch = runwal("sync", *map(str, ordered), "--to", ctx.uri, "--deadline", "5",
                   timeout=max(600.0, ctx.cmd_timeout))
    batch_state = server_vs_wal(ctx.uri, good_project, good_id, expected_points(200))
    ctx.raw["d"] = {"cases": [n for n, _ in cases], "results": results, "leaks": leaks,
                    "batch": {**judge(batch), **batch_state, "runs": len(ordered),
                              "stdout_tail": tail(batch.out, 5)}}
    for r in results:
        if ctx.verbose and (r["traceback"] or r["hung"] or r["not_one_line"]
                            or r.get("neighbours_lost")):
            print(f"  d: {r['command']} {r['case']}: rc={r['rc']} tb={r['traceback']} "
                  f"hung={r['hung']} multi={r['not_one_line']} "
                  f"lost={r.get('neighbours_lost', 0)} {r['stderr'][:160]}", flush=True)
    for cmd in [*commands, "all"]:
        rs = [r for r in results if cmd in ("all", r["command"])]
        tb = sorted({r["case"] for r in rs if r["traceback"]})
        ml = sorted({r["case"] for r in rs if r["not_one_line"] and not r["traceback"]})
        hung = sorted({r["case"] for r in rs if r["hung"]})
        if cmd == "all":
            what, shown = f"hostile inputs x {len(commands)} commands", ""
        else:
            what = f"hostile inputs: `{cmd}`"
            shown = "; ".join(x for x in (f"traceback: {', '.join(tb[:6])}" if tb else "",
                                          f"hung: {', '.join(hung)}" if hung else "") if x)
        ctx.table.add(
            "d", what, f"{len(rs)} ({len({r['case'] for r in rs})} inputs)", "-", "-", "-",
            f"tracebacks {sum(r['traceback'] for r in rs)}, not one line "
            f"{sum(r['not_one_line'] and not r['traceback'] for r in rs)}, hangs "
            f"{sum(r['hung'] for r in rs)}" + (f" ({len(ml)} inputs)" if ml else "")
            + (f"; {shown}" if shown else ""),
            "`runwal ls|show|dump|verify RUN`, `runwal export RUN --tensorboard OUT`, "
            "`runwal sync RUN --dry-run`, `runwal sync RUN --to URI --deadline 5`"
            if cmd == "all" else "")
    nb = [r for r in results if "neighbours_lost" in r]
    ctx.table.add("d", "good rows lost next to a hostile record (`runwal dump`, 10 per input)",
                  len(nb), fmt(worst(r["neighbours_lost"] for r in nb), " rows"),
                  fmt(median(r["neighbours_lost"] for r in nb), " rows"), "-",
                  f"inputs losing rows {sum(r['neighbours_lost'] > 0 for r in nb)}: "
                  + ", ".join(r["case"] for r in nb if r["neighbours_lost"] > 0)[:300], "")
    ctx.table.add("d", "files from outside the run dir uploaded (symlinks, `..`, absolute)",
                  len(hostile.ESCAPE_CASES), "-", "-", "-",
                  f"inputs that leaked {len(leaks)}: "
                  + "; ".join(f"{k}: {', '.join(v[:3])}" for k, v in leaks.items())[:300], "")
    bs = ctx.raw["d"]["batch"]
    ctx.table.add("d", f"batch: 1 good run among {len(bad_dirs)} hostile ones", 1,
                  fmt(bs["missing_points"], " points"), "-",
                  f"{bs['duplicate_runs']} runs, {bs['duplicate_points']} points",
                  f"good run synced: {bs['server_runs'] == 1 and bs['not_finished'] == 0}, rc "
                  f"{bs['rc']}, traceback {bs['traceback']}, hung {bs['hung']}",
                  "`runwal sync GOOD BAD... --to URI --deadline 5`")


# ---------------------------------------------------------------- e. concurrent writers


WRITER = textwrap.dedent("""
    import sys, time, warnings
    warnings.simplefilter("ignore")
    root, run_id, k, w, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
        float(sys.argv[5])
    import logwriter
    time.sleep(max(0.0, start_at - time.time()))
    try:
        logwriter.init(project="rel-e", id=run_id, resume="allow", dir=root,
                       capture_console=False, stats_interval=0)
    except Exception as exc:
        print("init-error", type(exc).__name__, str(exc).replace("\\n", " ")[:300], flush=True)
        sys.exit(3)
    acked = 0
    for i in range(k):
        logwriter.log({"w": w, "i": i})
        acked += 1
    logwriter.finish()
    print("acked", acked, flush=True)
""")


def section_e(ctx: Ctx) -> None:
    root = ctx.tmp / "e"
    root.mkdir()
    k = ctx.writer_records
    trials: list[dict[str, Any]] = []
    for t in range(ctx.trials_e):
        run_id = f"e{t}-{uid(ctx.rng)}"
        start_at = time.time() + 1.5
        procs = [subprocess.Popen([PY, "-c", WRITER, str(root), run_id, str(k), str(w),
                                   repr(start_at)], env=ENV, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for w in (0, 1)]
        outs = [p.communicate(timeout=300) for p in procs]
        acked = [0, 0]
        init_errors = []
        for w, (out, err) in enumerate(outs):
            m = re.search(r"^acked (\d+)$", out, re.M)
            if m:
                acked[w] = int(m.group(1))
            if "init-error" in out:
                init_errors.append(out.strip()[:200])
            elif not m:
                init_errors.append(f"writer {w} died rc={procs[w].returncode}: {tail(err)}")
        rows, dumped = dump_history(root / run_id)
        got = Counter((r["data"].get("w"), r["data"].get("i")) for r in rows)
        found = [len({i for (w2, i) in got if w2 == w}) for w in (0, 1)]
        lost = sum(max(0, acked[w] - found[w]) for w in (0, 1))
        dups = sum(n - 1 for n in got.values() if n > 1)
        verify = runwal("verify", str(root / run_id))
        trial = {"acked": acked, "on_disk": found, "lost": lost, "duplicates_on_disk": dups,
                 "init_errors": init_errors, "verify_rc": verify.rc,
                 "verify_tail": tail(verify.out, 2), "dump_traceback": TRACEBACK in dumped.err}
        trials.append(trial)
        print(f"  e{t}: acked={acked} on_disk={found} lost={lost} dups={dups} "
              f"verify rc={verify.rc} init_errors={len(init_errors)}", flush=True)
    ctx.raw["e"] = trials
    ctx.table.add(
        "e", f"2 writers, one run id, resume=\"allow\", {k:,} records each", len(trials),
        fmt(worst(t["lost"] for t in trials), " records"),
        fmt(median(t["lost"] for t in trials), " records"),
        f"{sum(t['duplicates_on_disk'] for t in trials)} records",
        f"trials losing records {sum(t['lost'] > 0 for t in trials)}, verify rc!=0 "
        f"{sum(t['verify_rc'] != 0 for t in trials)}, init refused "
        f"{sum(len(t['init_errors']) for t in trials)}",
        "2 x `init(id=SAME, resume=\"allow\", dir=ROOT)` + K x `log()` + `finish()`, started "
        "at the same instant; `runwal dump`, `runwal verify`")


# ---------------------------------------------------------------- main


class Ctx:
    def __init__(self, args: argparse.Namespace, tmp: Path, uri: str):
        self.tmp, self.uri = tmp, uri
        self.rng = random.Random(args.seed)
        self.trials_a = args.trials_a or args.trials
        self.trials_b = args.trials_b or args.trials
        self.trials_c = args.trials_c or args.trials
        self.trials_e = args.trials_e or args.trials
        self.trials_f = args.trials_f or args.trials
        self.trials_g = args.trials_g or 20 * args.trials
        self.big_points, self.max_kills = args.big_points, args.max_kills
        self.writer_records, self.jobs = args.writer_records, args.jobs
        self.cmd_timeout, self.verbose = args.cmd_timeout, args.verbose
        self.table = Table()
        self.raw: dict[str, Any] = {}


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)"
    return commit + (" + uncommitted changes in src/" if git("status", "--porcelain", "--",
                                                              "src") else "")


SECTIONS = {"a": section_a, "b": section_b, "c": section_c, "d": section_d, "e": section_e,
            "f": section_f, "g": section_g}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5, help="trials per section a, b, c, e, f")
    ap.add_argument("--trials-a", type=int, default=0, help="override for section a")
    ap.add_argument("--trials-b", type=int, default=0, help="override for section b")
    ap.add_argument("--trials-c", type=int, default=0, help="override for section c")
    ap.add_argument("--trials-e", type=int, default=0, help="override for section e")
    ap.add_argument("--trials-f", type=int, default=0, help="override for section f (each of "
                    "3 rates x 2 tails)")
    ap.add_argument("--trials-g", type=int, default=0, help="section g: flipped bytes per run "
                    "size (default 20 x --trials)")
    ap.add_argument("--sections", default="abcdefg")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "reliability.json")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--big-points", type=int, default=50_000, help="section b run size")
    ap.add_argument("--max-kills", type=int, default=15, help="section b kills per trial at most")
    ap.add_argument("--writer-records", type=int, default=3000, help="section e, per writer")
    ap.add_argument("--jobs", type=int, default=2, help="section d commands run at once")
    ap.add_argument("--cmd-timeout", type=float, default=120.0,
                    help="section d: seconds before a command counts as hung")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (run dirs, server)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="runwal-reliability-"))
    started = time.time()
    print(f"# runwal reliability ({time.strftime('%Y-%m-%d %H:%M')}, {source_state()}, "
          f"temp {tmp})", flush=True)
    errors: dict[str, str] = {}
    ctx: Ctx | None = None
    try:
        t0 = time.monotonic()
        with LocalMlflowServer(tmp / "mlflow") as server:
            print(f"MLflow server {server.uri} up in {time.monotonic() - t0:.1f} s\n", flush=True)
            ctx = Ctx(args, tmp, server.uri)
            print(Table.line(Table.HEAD))
            print(Table.line("---" for _ in Table.HEAD), flush=True)
            for key in args.sections:
                t1 = time.monotonic()
                try:
                    SECTIONS[key](ctx)
                except Exception as exc:  # a section that breaks must not hide the others
                    errors[key] = traceback.format_exc()
                    ctx.table.add(key, "SECTION ERROR", "-", "-", "-", "-",
                                  f"{type(exc).__name__}: {exc}"[:300], "")
                ctx.raw.setdefault("section_seconds", {})[key] = round(time.monotonic() - t1, 1)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "commit": source_state(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "table": ctx.table.markdown() if ctx else "",
        "errors": errors,
        **(ctx.raw if ctx else {}),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"\n## Table\n\n{result['table']}\n\nraw: {args.out} "
          f"({result['seconds']:.0f} s)", flush=True)
    for key, text in errors.items():
        print(f"\nsection {key} error:\n{text}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
