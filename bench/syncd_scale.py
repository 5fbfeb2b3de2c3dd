"""The login node at scale: ``runwal syncd`` over 10,000 finished runs and 50 live ones.

Run by hand (not part of pytest)::

    .venv/bin/python bench/syncd_scale.py                # 10,000 + 50, the reported numbers
    .venv/bin/python bench/syncd_scale.py --runs 1000 --live 5   # while developing

A directory of ``--runs`` finished runs, each already synced (its checkpoint
says finished at its last seq, as a real sync leaves it: the daemon and
``runwal sync`` must find that out from disk, without the server) and written
``--age`` seconds ago (a day: earlier jobs' runs; syncd looks at runs quiet
for a minute less often, so ``--age 0`` shows the first minute), then:

1. ``runwal sync DIR/*`` over all of them (a fresh process): every run skipped;
2. ``runwal syncd DIR`` (events mode): the start-up scan (until its "start"
   line, then until its CPU settles: every run looked at once), then idle CPU
   (% of one core) and RSS over ``--idle`` seconds;
3. ``--live`` runs, each its own process (logwriter, one point per second),
   and a probe run logging every 0.2 s from this process: the live lag
   (log() to readable from the server, polled every 50 ms) p50/p99, and the
   daemon's CPU and RSS meanwhile.

The server is a 1-worker SQLite ``LocalMlflowServer`` (it only sees the live
runs). Results: a table on stdout and bench/results/syncd_scale-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import benchlib as bl  # bench/ is on sys.path: it is the script's directory
import httpx

sys.path.insert(0, str(bl.REPO_DIR / "tests"))
from sync_bench import runwal_cmd, server_run_for

from runbuilder import build_run
from schema.layout import RunDir
from syncer.engine import checkpoint
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer
from syncer.sinks.mlflow.sink import sink_name_for

LIVE_SCRIPT = textwrap.dedent("""
    import sys, time, logwriter
    root, seconds = sys.argv[1], float(sys.argv[2])
    run = logwriter.init(project="scale-live", dir=root, capture_console=False,
                         stats_interval=0)
    print("ready", flush=True)
    end, step = time.time() + seconds, 0
    while time.time() < end:
        run.log({"live/x": float(step)}, step=step)
        step += 1
        time.sleep(1.0)
    run.finish()
""")


def make_synced_runs(root: Path, n: int, uri: str, age: float = 86400.0) -> float:
    """``n`` finished runs with the checkpoint a completed sync leaves, their files
    ``age`` seconds old (finished runs on a login node are from earlier jobs: a day by
    default, ``--age 0`` for runs written just now); seconds taken."""
    t0 = time.perf_counter()
    sink = sink_name_for(uri)
    recs = [(1, 1.7e9, {"user": "bench", "argv": ["train.py"]}), (2, 1.7e9, {"lr": 0.1})]
    recs += [(3, 1.7e9 + i, {"step": i, "data": {"loss": 1.0 / (i + 1)}}) for i in range(5)]
    recs.append((10, 1.7e9 + 10, {"code": 0, "status": "finished", "runtime": 10.0}))
    for i in range(n):
        run = build_run(root, recs, run_id=f"done{i:05d}", project="scale-done")
        rd = RunDir(run)
        seg = rd.segments()[-1]
        checkpoint.save(rd, checkpoint.Checkpoint(
            sink=sink, uri=uri, server_run_id=f"fake{i:05d}", experiment_id="1",
            seq=len(recs) - 1, segment=seg.name, offset=seg.stat().st_size, finished=True))
        if age:
            then = time.time() - age
            for f in (run / "run.json", seg):
                os.utime(f, (then, then))
    return time.perf_counter() - t0


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sample(pid: int, seconds: float) -> dict[str, float]:
    c0, t0 = cpu_s(pid), time.monotonic()
    peak = 0.0
    while time.monotonic() - t0 < seconds:
        peak = max(peak, rss_mb(pid))
        time.sleep(0.5)
    return {"cpu_pct": 100 * (cpu_s(pid) - c0) / (time.monotonic() - t0), "rss_mb": peak}


def settle(pid: int, window: float = 1.0, below: float = 5.0, timeout: float = 600) -> float:
    """Seconds until a ``window`` of the process's CPU is under ``below`` % of a core."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        c0 = cpu_s(pid)
        time.sleep(window)
        if 100 * (cpu_s(pid) - c0) / window < below:
            return time.monotonic() - t0 - window
    return float("nan")


def lag_probe(uri: str, root: Path, n: int, interval: float = 0.2) -> dict[str, Any]:
    """log() -> readable on the server, for ``n`` points of a run in ``root``."""
    import logwriter

    run = logwriter.init(project="scale-probe", dir=str(root), capture_console=False,
                         stats_interval=0)
    logged: dict[int, float] = {}
    seen: dict[int, float] = {}
    try:
        with httpx.Client(timeout=10) as http:
            sid, until = None, time.monotonic() + 120
            while sid is None and time.monotonic() < until:
                sid = server_run_for(http, uri, "scale-probe", run.id)
                time.sleep(0.1)
            if sid is None:
                return {"status": "the probe run never reached the server"}
            next_log, until = time.time(), time.monotonic() + 60 + n * interval
            while len(seen) < n and time.monotonic() < until:
                if len(logged) < n and time.time() >= next_log:
                    logged[len(logged)] = time.time()
                    run.log({"lag/probe": float(len(logged) - 1)})
                    next_log += interval
                r = http.get(f"{uri}/api/2.0/mlflow/metrics/get-history",
                             params={"run_id": sid, "metric_key": "lag/probe"})
                now = time.time()
                for m in r.json().get("metrics", []) if r.status_code == 200 else []:
                    step = int(m.get("step", 0))
                    if step in logged and step not in seen:
                        seen[step] = now
                time.sleep(0.05)
    finally:
        run.finish()
    lags = sorted(seen[s] - logged[s] for s in seen)
    return {"n": len(lags), "p50_s": bl.percentile(lags, 50), "p99_s": bl.percentile(lags, 99)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--live", type=int, default=50)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle sampling")
    ap.add_argument("--probe-points", type=int, default=50)
    ap.add_argument("--age", type=float, default=86400.0,
                    help="seconds since the finished runs were written (0: just now)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    say = lambda msg: print(f"[syncd_scale] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    res: dict[str, Any] = {"machine": bl.machine_info(), "runs": args.runs, "live": args.live}
    runwal = runwal_cmd(args.python)
    if runwal[-1] == "syncer.cli.sync":
        runwal = [args.python, "-m", "syncer.cli"]
    with tempfile.TemporaryDirectory(prefix="syncdscale-") as tmp_s:
        tmp = Path(tmp_s)
        root = tmp / "runs"
        root.mkdir()
        with LocalMlflowServer(tmp / "server") as srv:
            say(f"writing {args.runs} synced runs ...")
            res["write_s"] = make_synced_runs(root, args.runs, srv.uri, args.age)
            res["age_s"] = args.age
            say(f"runwal sync over {args.runs} synced runs ...")
            t0 = time.perf_counter()
            out = subprocess.run([*runwal, "sync", *map(str, sorted(root.iterdir())), "--to",
                                  srv.uri, "--json"], capture_output=True, text=True, timeout=900)
            res["sync_all_synced_s"] = time.perf_counter() - t0
            statuses = [r["status"] for r in json.loads(out.stdout)["runs"]] if out.stdout else []
            res["sync_all_statuses"] = {s: statuses.count(s) for s in set(statuses)}
            say(f"runwal syncd over {args.runs} runs: start-up ...")
            log_path = tmp / "syncd.log"
            with open(log_path, "wb") as log:
                t0 = time.monotonic()
                syncd = subprocess.Popen([*runwal, "syncd", str(root), "--to", srv.uri, "--json"],
                                         stdout=log, stderr=subprocess.STDOUT)
            try:
                while b'"start"' not in log_path.read_bytes() and syncd.poll() is None:
                    time.sleep(0.05)
                res["startup_scan_s"] = time.monotonic() - t0
                res["startup_settled_s"] = res["startup_scan_s"] + settle(syncd.pid)
                say(f"idle for {args.idle:.0f} s ...")
                res["idle"] = sample(syncd.pid, args.idle)
                say(f"{args.live} live runs + the lag probe ...")
                seconds = str(args.idle + 40 + args.probe_points * 0.2)
                live = [subprocess.Popen([args.python, "-c", LIVE_SCRIPT, str(root), seconds],
                                         stdout=subprocess.PIPE, text=True)
                        for _ in range(args.live)]
                for p in live:
                    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
                res["lag"] = lag_probe(srv.uri, root, args.probe_points)
                res["with_live"] = sample(syncd.pid, args.idle)
                for p in live:
                    p.wait(timeout=180)
            finally:
                syncd.terminate()
                syncd.wait(timeout=60)
            res["syncd_exit"] = syncd.returncode
    print(report(res))
    print(f"\nresults in {bl.write_results('syncd_scale', res)}")


def report(res: dict[str, Any]) -> str:
    lag = res.get("lag", {})
    return "\n".join([
        f"| {res['runs']} finished + {res['live']} live runs | value |", "|---|---:|",
        f"| runwal sync over all (already synced) | {res['sync_all_synced_s']:.1f} s "
        f"{res['sync_all_statuses']} |",
        f"| syncd start-up scan (to its start line) | {res['startup_scan_s']:.1f} s |",
        f"| syncd start-up until its CPU settles | {res['startup_settled_s']:.1f} s |",
        f"| syncd idle CPU / RSS | {res['idle']['cpu_pct']:.2f} % / "
        f"{res['idle']['rss_mb']:.0f} MB |",
        f"| syncd with live runs CPU / RSS | {res['with_live']['cpu_pct']:.1f} % / "
        f"{res['with_live']['rss_mb']:.0f} MB |",
        f"| live lag p50 / p99 | {lag.get('p50_s', float('nan')):.2f} s / "
        f"{lag.get('p99_s', float('nan')):.2f} s |",
    ])


if __name__ == "__main__":
    main()
