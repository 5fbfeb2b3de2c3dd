"""runwal against MLflow's production shape: PostgreSQL behind ``mlflow server --workers 4``.

Run by hand (not part of pytest; needs ``runwal[postgres]``, which ``dev`` has)::

    .venv/bin/python bench/pg_bench.py            # the reported numbers
    .venv/bin/python bench/pg_bench.py --quick    # a short version while developing

One private PostgreSQL cluster (tests/pgserver.py; ``--durable`` keeps fsync on)
with a 4-worker MLflow server on it, and a 1-worker server on the same database
for comparison, measure:

1. the keep-alive stall: p50 of back-to-back small GETs on one reused
   connection, plain httpx vs runwal's client (`syncer.sinks.mlflow.client`),
   against 4 workers and 1 worker;
2. one big run (20k steps x 10 keys = 200k points): raw REST with 4
   connections (pre-encoded 1000-row log-batch bodies, bench/sync_bench.py's
   ``rest_ceiling``) and ``runwal sync`` (a fresh process, interpreter start
   included), interleaved rounds, median reported;
3. 100 small runs (200 steps x 5 keys) with ``runwal sync --workers`` 1, 2, 4, 8
   (fresh runs each time).

Results: a Markdown table on stdout and bench/results/pg_bench-*.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl  # bench/ is on sys.path: it is the script's directory
import httpx

sys.path.insert(0, str(bl.REPO_DIR / "tests"))
import sync_bench as sb

import pgserver
from syncer.sinks.mlflow.client import build_client
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer


def keepalive_p50(uri: str, runwal_client: bool, n: int = 60) -> float:
    """p50 ms of back-to-back small GETs on one reused keep-alive connection."""
    with build_client() if runwal_client else httpx.Client() as http:
        url = f"{uri}/api/2.0/mlflow/experiments/get-by-name"

        def get() -> None:
            http.get(url, params={"experiment_name": "Default"})

        get()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            get()
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one round")
    ap.add_argument("--durable", action="store_true", help="fsync on in the cluster")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4,8")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    steps, keys = (2000, 10) if args.quick else (20_000, 10)
    small_runs = 20 if args.quick else 100
    repeat = 1 if args.quick else args.repeat
    say = lambda msg: print(f"[pg_bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    res: dict[str, Any] = {"machine": bl.machine_info(), "durable": args.durable,
                           "keepalive_ms": {}, "big": {}, "small": {}}
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.perf_counter()
        with pgserver.pg_mlflow(tmp / "srv4", workers=4, durable=args.durable) as (srv, pg):
            res["startup_s"] = {"postgres": round(pg.started_in, 2),
                                "mlflow_4_workers": round(srv.started_in, 2),
                                "total": round(time.perf_counter() - t0, 2)}
            say(f"started: {res['startup_s']}")
            one = LocalMlflowServer(tmp / "srv1", backend_uri=pg.uri("mlflow"), workers=1)
            with one:
                for name, uri in (("4 workers", srv.uri), ("1 worker", one.uri)):
                    for label, ours in (("httpx", False), ("runwal", True)):
                        res["keepalive_ms"][f"{name}, {label}"] = round(
                            keepalive_p50(uri, ours), 2)
            say(f"keep-alive p50: {res['keepalive_ms']}")
            uri = srv.uri
            rows = sb.metric_rows(steps, keys, int(time.time() * 1000))
            sb.rest_ceiling(uri, rows[: 10 * sb.BATCH], 1)  # warm the workers up
            trials: dict[str, list[float]] = {"rest_4conn": [], "runwal_sync": []}
            for rnd in range(repeat):
                say(f"round {rnd + 1}: raw REST, 4 connections, {len(rows)} points ...")
                trials["rest_4conn"].append(sb.rest_ceiling(uri, rows, 4)["seconds"])
                run_dir = sb.make_run(tmp / f"big-{rnd}", "pg-bench-big", steps, keys)
                say(f"round {rnd + 1}: runwal sync ...")
                r = sb.runwal_sync(args.python, uri, [run_dir], workers=1)
                assert r["statuses"] == {"synced": 1}, r
                trials["runwal_sync"].append(r["seconds"])
            for k, v in trials.items():
                res["big"][k] = {"seconds": statistics.median(v), "rounds_s": v,
                                 "points_per_s": len(rows) / statistics.median(v)}
            for w in (int(x) for x in args.workers.split(",")):
                dirs = [sb.make_run(tmp / f"small-w{w}", f"pg-bench-small-{w}", 200, 5, seed=i)
                        for i in range(small_runs)]
                say(f"{small_runs} small runs, --workers {w} ...")
                r = sb.runwal_sync(args.python, uri, dirs, workers=w)
                assert r["statuses"] == {"synced": small_runs}, r
                res["small"][str(w)] = {"seconds": r["seconds"], "runs": small_runs}
    print(report(res))
    print(f"\nresults in {bl.write_results('pg_bench', res)}")


def report(res: dict[str, Any]) -> str:
    out = [f"start-up: {res['startup_s']} (durable={res['durable']})", "",
           "| keep-alive, back-to-back GET | p50 ms |", "|---|---:|"]
    out += [f"| {k} | {v:.1f} |" for k, v in res["keepalive_ms"].items()]
    out += ["", "| one big run | seconds | points/s | vs raw REST 4 conn |", "|---|---:|---:|---:|"]
    ref = res["big"]["rest_4conn"]["seconds"]
    for k, v in res["big"].items():
        out.append(f"| {k} | {v['seconds']:.1f} | {v['points_per_s']:.0f} | "
                   f"{ref / v['seconds']:.2f}x |")
    out += ["", "| small runs | --workers | seconds | runs/s |", "|---|---:|---:|---:|"]
    for w, v in res["small"].items():
        out.append(f"| {v['runs']} | {w} | {v['seconds']:.1f} | {v['runs'] / v['seconds']:.1f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
