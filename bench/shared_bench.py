"""Shared runs: what a stream per process costs the training loop and the syncer.

1. ``log()`` in a shared run (a non-primary stream) vs a plain run: p50/p99 µs
   of 20,000 calls of 10 scalars each, in fresh processes.
2. ``runwal sync`` of one run of 64 streams vs 64 one-stream runs holding the
   same points (each stream/run: 500 steps of 2 metrics), against a fresh local
   MLflow (SQLite): seconds, HTTP requests (counted by tests/faultproxy.py) and
   the syncer's peak RSS.
3. With ``--live-streams N``: the CPU ``runwal syncd`` spends following a live
   shared run of N streams (one process each, 10 rows/s for 30 s).

    .venv/bin/python bench/shared_bench.py               # ~3 min
    .venv/bin/python bench/shared_bench.py --streams 16 --steps 200
    .venv/bin/python bench/shared_bench.py --live-streams 64   # + syncd CPU on a live run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests"), str(REPO / "bench")]

from benchlib import markdown_table, percentile  # noqa: E402

from faultproxy import FaultProxy  # noqa: E402
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer  # noqa: E402
from syncutil import R, training_records, write_run  # noqa: E402

PY = sys.executable
LOG_WORKER = """
import json, os, sys, time
sys.path.insert(0, sys.argv[4])
from benchlib import workload_rows
import logwriter
shared = sys.argv[1] == "shared"
if shared:
    os.environ["RANK"], os.environ["WORLD_SIZE"] = "1", "2"
run = logwriter.init(project="bench", id="b" + sys.argv[1], dir=sys.argv[2], shared=shared,
                     stats_interval=0, capture_console=False)
rows = workload_rows(int(sys.argv[3]), 10)
times = []
for i, row in enumerate(rows):
    t0 = time.perf_counter_ns()
    run.log(row, step=i)
    times.append(time.perf_counter_ns() - t0)
run.finish()
print(json.dumps(times))
"""


def log_cost(kind: str, steps: int, tmp: Path) -> dict[str, Any]:
    out = subprocess.run([PY, "-c", LOG_WORKER, kind, str(tmp / kind), str(steps),
                          str(REPO / "bench")], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    ns = sorted(json.loads(out.stdout.splitlines()[-1]))
    return {"run": kind, "p50_us": percentile(ns, 50) / 1000, "p99_us": percentile(ns, 99) / 1000}


def build(root: Path, streams: int, steps: int) -> tuple[Path, Path]:
    """(a runs dir with one shared run of ``streams`` streams, one with as many runs)."""
    shared_root, plain_root = root / "shared", root / "plain"
    records = training_records(steps)
    run = write_run(shared_root, "big", records, project="bench-shared")
    for s in range(1, streams):
        label = f"rank_{s}"
        recs = [(R.RUN, records[0][1], {**records[0][2], "stream": {"label": label,
                                                                     "primary": False,
                                                                     "rank": s}}),
                *records[1:]]
        write_run(run / "streams", label, recs)
        (run / "streams" / label / "run.json").unlink()  # a stream's identity is the run's
    for s in range(streams):
        write_run(plain_root, f"r{s:03d}", records, project="bench-plain")
    return shared_root, plain_root


def sync_cost(runs: Path, upstream: str) -> dict[str, Any]:
    with FaultProxy(upstream) as proxy:
        t0 = time.monotonic()
        proc = subprocess.run([PY, "-c", "import resource, runpy, sys; sys.argv = sys.argv[1:];"
                               " runpy.run_module('syncer.cli', run_name='__main__')",
                               "runwal", "sync", str(runs), "--to", proxy.uri, "--json"],
                              capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
        wall = time.monotonic() - t0
        requests = proxy.count
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    res = json.loads(proc.stdout)["runs"]
    return {"seconds": wall, "requests": requests, "runs": len(res),
            "status": sorted({r["status"] for r in res}), "points": sum(r["points"] for r in res),
            "peak_rss_mb_so_far": rss}


PACED_WORKER = """
import os, sys, time
import logwriter
rank, runs, rate, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
os.environ["RANK"] = str(rank)
run = logwriter.init(project="bench-live", id="live", dir=runs, shared=True, stats_interval=0,
                     capture_console=False)
t0, i = time.monotonic(), 0
while time.monotonic() - t0 < seconds:
    run.log({"loss": 1.0 / (i + 1)}, step=i, commit=True)
    i += 1
    time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
run.finish()
"""


def syncd_cost(streams: int, rate: float, seconds: float, tmp: Path, uri: str
               ) -> dict[str, Any]:
    """CPU of ``runwal syncd`` (poll mode) following a live run of ``streams`` streams,
    each logging ``rate`` rows/s for ``seconds``; and whether every row got there."""
    import psutil

    runs = tmp / "live"
    runs.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    syncd = subprocess.Popen([PY, "-m", "syncer.cli", "syncd", str(runs), "--to", uri,
                              "--watch", "poll"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    workers = [subprocess.Popen([PY, "-c", PACED_WORKER, str(r), str(runs), str(rate),
                                 str(seconds)], env=env) for r in range(streams)]
    t0 = time.monotonic()
    cpu0 = psutil.Process(syncd.pid).cpu_times()
    for w in workers:
        w.wait()
    time.sleep(3.0)  # the last rows' pass
    cpu1 = psutil.Process(syncd.pid).cpu_times()
    wall = time.monotonic() - t0
    syncd.send_signal(signal.SIGTERM)
    syncd.wait(60)
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"streams": streams, "rows_per_s_each": rate, "seconds": wall, "syncd_cpu_s": cpu,
            "syncd_cpu_percent": 100 * cpu / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--log-steps", type=int, default=20_000)
    ap.add_argument("--live-streams", type=int, default=0,
                    help="also measure syncd's CPU following a live run of this many streams "
                         "(one process each, 10 rows/s for 30 s)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="runwal-shared-bench-"))
    try:
        costs = [log_cost(kind, args.log_steps, tmp) for kind in ("plain", "shared")]
        print(markdown_table(("run", "p50 µs/log", "p99 µs/log"),
                             [(c["run"], f"{c['p50_us']:.2f}", f"{c['p99_us']:.1f}")
                              for c in costs]), flush=True)
        shared_root, plain_root = build(tmp / "data", args.streams, args.steps)
        rows = []
        with LocalMlflowServer(tmp / "mlflow") as server:
            for label, root in ((f"1 run of {args.streams} streams", shared_root),
                                (f"{args.streams} runs of 1 stream", plain_root)):
                got = sync_cost(root, server.uri)
                rows.append((label, f"{got['points']:,}", f"{got['seconds']:.1f}",
                             f"{got['requests']:,}", ", ".join(got["status"])))
                print(label, got, flush=True)
            if args.live_streams:
                live = syncd_cost(args.live_streams, 10.0, 30.0, tmp, server.uri)
                import mlflow

                client = mlflow.tracking.MlflowClient(server.uri)
                (run,) = client.search_runs(
                    [e.experiment_id for e in client.search_experiments()],
                    "tags.`runwal.run_id` = 'live'")
                live["keys_on_server"] = sum(1 for k in run.data.metrics if k.endswith("loss"))
                print("syncd following a live run", live, flush=True)
        print()
        print(markdown_table(("runwal sync of", "points", "seconds", "requests", "status"),
                             rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
