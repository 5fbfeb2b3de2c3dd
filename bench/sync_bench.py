"""Syncer benchmark: how fast runwal gets a run into MLflow, next to MLflow's own client.

Run by hand (not part of pytest)::

    bash bench/setup.sh && bench/.venv/bin/python bench/sync_bench.py

(``.venv/bin/python bench/sync_bench.py`` works too: it needs mlflow, httpx
and runwal, not wandb.)

A real MLflow server (``LocalMlflowServer``: SQLite, ``--workers 1``), a fresh
one per measurement (empty store, warmed up), takes the same 200k points
(20k steps x 10 keys) from:

1. raw REST, 1 connection: pre-encoded ``POST /api/2.0/mlflow/runs/log-batch``
   bodies of 1000 metrics sent back to back with httpx: the server's ceiling
   for one client;
2. ``MlflowClient().log_batch`` in batches of 1000 (a fresh process);
3. ``runwal sync RUN --to URI`` (a fresh process; its wall time includes
   interpreter start, reading the WAL, creating the run and ending it);
4. raw REST, 4 parallel connections: the ceiling for a parallel client.

Then 100 small runs (200 steps x 5 keys each) synced with ``--workers`` 1, 4
and 8 (a fresh set of runs each time, so nothing is skipped as already synced),
and the live lag: a run logs a timestamped point every 0.2 s while
``runwal syncd`` (or, until that command exists, the syncer's follow mode)
tails it, and this process polls the server until each point is there
(see livelag.py).

Every contender writes to its own MLflow run, so no identical row is
deduplicated. Results: a Markdown table and bench/results/sync_bench-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import benchlib as bl  # bench/ is on sys.path: it is the script's directory
import httpx
import livelag

BATCH = 1000
LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"


# -- data ----------------------------------------------------------------------


def make_run(root: Path, project: str, steps: int, keys: int, *, seed: int = 1234) -> Path:
    """A finished runwal run of ``steps`` x ``keys`` points, no stats or console."""
    import logwriter

    run = logwriter.init(project=project, dir=str(root), capture_console=False,
                         stats_interval=0, config={"lr": 3e-4, "batch_size": 64})
    for i, row in enumerate(bl.workload_rows(steps, keys, seed=seed)):
        run.log(row, step=i)
    run.finish()
    return Path(run.run_dir)


def metric_rows(steps: int, keys: int, t0_ms: int) -> list[dict[str, Any]]:
    """The same points as the WAL, as MLflow metric dicts (timestamp in ms)."""
    out = []
    for i, row in enumerate(bl.workload_rows(steps, keys)):
        ts = t0_ms + i
        out += [{"key": k, "value": v, "timestamp": ts, "step": i} for k, v in row.items()]
    return out


# -- REST helpers -----------------------------------------------------------------


def new_run(http: httpx.Client, uri: str, experiment: str, name: str) -> str:
    """Create (or reuse) an experiment and a fresh run in it; the run's id."""
    r = http.get(f"{uri}/api/2.0/mlflow/experiments/get-by-name",
                 params={"experiment_name": experiment})
    if r.status_code == 200:
        exp_id = r.json()["experiment"]["experiment_id"]
    else:
        r = http.post(f"{uri}/api/2.0/mlflow/experiments/create", json={"name": experiment})
        r.raise_for_status()
        exp_id = r.json()["experiment_id"]
    r = http.post(f"{uri}/api/2.0/mlflow/runs/create",
                  json={"experiment_id": exp_id, "run_name": name,
                        "start_time": int(time.time() * 1000)})
    r.raise_for_status()
    return str(r.json()["run"]["info"]["run_id"])


def runwal_run_meta(http: httpx.Client, uri: str,
                    server_run: str) -> dict[str, list[dict[str, str]]]:
    """The params and tags runwal gives a run before its metrics (summary.* tags come at
    the end), so the other contenders' runs can carry the same: MLflow loads a run's
    tags and params on every log-batch, ~12% per request for this many here."""
    r = http.get(f"{uri}/api/2.0/mlflow/runs/get", params={"run_id": server_run})
    r.raise_for_status()
    data = r.json()["run"]["data"]
    tags = [t for t in data.get("tags", [])
            if not t["key"].startswith("summary.") and t["key"] != "mlflow.runName"]
    return {"params": list(data.get("params", [])), "tags": tags}


def history_len(http: httpx.Client, uri: str, run_id: str, key: str) -> int:
    r = http.get(f"{uri}/api/2.0/mlflow/metrics/get-history",
                 params={"run_id": run_id, "metric_key": key, "max_results": 100000})
    r.raise_for_status()
    return len(r.json().get("metrics", []))


def server_run_for(http: httpx.Client, uri: str, project: str, runwal_id: str) -> str | None:
    """The MLflow run runwal created for ``runwal_id`` (tag ``runwal.run_id``)."""
    r = http.get(f"{uri}/api/2.0/mlflow/experiments/get-by-name",
                 params={"experiment_name": project})
    if r.status_code != 200:
        return None
    exp_id = r.json()["experiment"]["experiment_id"]
    r = http.post(f"{uri}/api/2.0/mlflow/runs/search",
                  json={"experiment_ids": [exp_id], "max_results": 10,
                        "filter": f"tags.`runwal.run_id` = '{runwal_id}'"})
    runs = r.json().get("runs", []) if r.status_code == 200 else []
    return str(runs[0]["info"]["run_id"]) if runs else None


# -- contenders -----------------------------------------------------------------


def rest_ceiling(uri: str, rows: list[dict[str, Any]], connections: int,
                 meta: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """Pre-encoded log-batch bodies over ``connections`` keep-alive connections."""
    with httpx.Client(timeout=60) as http:
        run_id = new_run(http, uri, "bench-rest", f"rest-{connections}conn")
        if meta:
            http.post(uri + LOG_BATCH, json={"run_id": run_id, **meta}).raise_for_status()
    bodies = [json.dumps({"run_id": run_id, "metrics": rows[i:i + BATCH]}).encode()
              for i in range(0, len(rows), BATCH)]
    headers = {"Content-Type": "application/json"}

    def send(part: list[bytes]) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(timeout=60, limits=limits) as http:
            for body in part:
                http.post(uri + LOG_BATCH, content=body, headers=headers).raise_for_status()

    parts = [bodies[i::connections] for i in range(connections)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(send, parts))
    dt = time.perf_counter() - t0
    return {"run_id": run_id, "seconds": dt, "points": len(rows), "requests": len(bodies)}


CLIENT_SCRIPT = textwrap.dedent("""
    import json, sys, time
    t_start = time.perf_counter()
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient
    uri, rows_path, batch, meta_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rows = json.load(open(rows_path))
    meta = json.load(open(meta_path))
    metrics = [Metric(r["key"], r["value"], r["timestamp"], r["step"]) for r in rows]
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("bench-client")
    exp_id = exp.experiment_id if exp else client.create_experiment("bench-client")
    run = client.create_run(exp_id, run_name="mlflow-client")
    from mlflow.entities import Param, RunTag
    client.log_batch(run.info.run_id, params=[Param(p["key"], p["value"]) for p in meta["params"]],
                     tags=[RunTag(t["key"], t["value"]) for t in meta["tags"]])
    t0 = time.perf_counter()
    for i in range(0, len(metrics), batch):
        client.log_batch(run.info.run_id, metrics=metrics[i:i + batch])
    t1 = time.perf_counter()
    client.set_terminated(run.info.run_id)
    print(json.dumps({"run_id": run.info.run_id, "seconds": t1 - t0,
                      "process_s": time.perf_counter() - t_start}))
""")


def mlflow_client(python: str, uri: str, rows: list[dict[str, Any]], tmp: Path,
                  meta: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """MLflow's own client in a fresh process; only the log_batch loop is timed."""
    rows_path, meta_path = tmp / "rows.json", tmp / "meta.json"
    rows_path.write_text(json.dumps(rows))
    meta_path.write_text(json.dumps(meta or {"params": [], "tags": []}))
    t0 = time.perf_counter()
    out = subprocess.run([python, "-c", CLIENT_SCRIPT, uri, str(rows_path), str(BATCH),
                          str(meta_path)],
                         capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, MLFLOW_TRACKING_URI=uri))
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"MlflowClient failed:\n{out.stderr[-3000:]}")
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(points=len(rows), wall_s=wall)
    return res


def runwal_cmd(python: str) -> list[str]:
    """``runwal`` beside the interpreter when it starts, else ``python -m syncer.cli.sync``."""
    exe = Path(python).with_name("runwal")
    if exe.exists():
        probe = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [str(exe)]
    return [python, "-m", "syncer.cli.sync"]


def has_syncd(python: str) -> bool:
    cmd = runwal_cmd(python)
    if cmd[-1] == "syncer.cli.sync":
        return False
    return subprocess.run([*cmd, "syncd", "--help"], capture_output=True).returncode == 0


def runwal_sync(python: str, uri: str, run_dirs: list[Path], workers: int) -> dict[str, Any]:
    """``runwal sync`` in a fresh process; the wall time includes its startup."""
    cmd = runwal_cmd(python)
    if cmd[-1] != "syncer.cli.sync":
        cmd.append("sync")
    cmd += [*map(str, run_dirs), "--to", uri, "--workers", str(workers), "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"runwal sync exited {out.returncode}:\n{out.stderr[-3000:]}")
    summary = json.loads(out.stdout)
    statuses: dict[str, int] = {}
    for r in summary["runs"]:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {"seconds": wall, "statuses": statuses, "runs": len(summary["runs"])}


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its children (uvicorn workers)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
    except psutil.Error:
        pass
    return total


# -- report ---------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--small-runs", type=int, default=100)
    ap.add_argument("--small-steps", type=int, default=200)
    ap.add_argument("--small-keys", type=int, default=5)
    ap.add_argument("--workers", default="1,4,8")
    ap.add_argument("--lag-points", type=int, default=50)
    ap.add_argument("--same-metadata", action=argparse.BooleanOptionalAction, default=True,
                    help="give every contender's run the params and tags runwal sets")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of the 200k-point contenders (median reported)")
    ap.add_argument("--skip", default="", help="comma list of: rest1,client,runwal,rest4,small,lag")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the children")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    from syncer.sinks.mlflow.loopback_server import LocalMlflowServer

    info = bl.machine_info()
    res: dict[str, Any] = {"machine": info, "big": {}, "small": {}, "lag": None}
    points = args.steps * args.keys
    with tempfile.TemporaryDirectory(prefix="syncbench-") as tmp_s:
        tmp = Path(tmp_s)
        say = lambda msg: print(f"[sync_bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731
        rows = metric_rows(args.steps, args.keys, int(time.time() * 1000))
        big = res["big"]

        @contextmanager
        def fresh_server(name: str) -> Iterator[tuple[str, Callable[[], float]]]:
            """A new server (empty SQLite store) per measurement, warmed up: with one
            shared server, whoever goes later writes into a bigger database and an
            older process, which cost up to ~10% in trials here."""
            say(f"{name}: starting a fresh MLflow server ...")
            with LocalMlflowServer(tmp / f"server-{name}") as srv:
                assert srv.proc is not None
                pid = srv.proc.pid
                # The server imports and caches lazily on its first requests.
                rest_ceiling(srv.uri, rows[: 10 * BATCH], 1)
                c0 = server_cpu(pid)
                yield srv.uri, lambda: server_cpu(pid) - c0

        # The server's speed drifts by 10-20% between runs on a small VM, more than
        # the differences measured: rounds interleave the contenders, each on a
        # fresh server, and the table shows each one's median round.
        meta = None
        if args.same_metadata:
            with fresh_server("meta") as (uri, _):
                say("the params and tags runwal gives a run ...")
                probe = make_run(tmp / "meta", "bench-runwal", 100, args.keys)
                runwal_sync(args.python, uri, [probe], workers=1)
                with httpx.Client(timeout=60) as http:
                    sid = server_run_for(http, uri, "bench-runwal", probe.name)
                    assert sid is not None, "the probe run did not reach the server"
                    meta = runwal_run_meta(http, uri, sid)
            res["same_metadata"] = {k: len(v) for k, v in meta.items()}
        trials: dict[str, list[dict[str, Any]]] = {}
        for rnd in range(1, args.repeat + 1):
            if "rest1" not in skip:
                with fresh_server(f"rest1-{rnd}") as (uri, cpu):
                    say(f"round {rnd}: raw REST, 1 connection, {points} points ...")
                    trials.setdefault("rest_1conn", []).append(
                        dict(rest_ceiling(uri, rows, 1, meta), server_cpu_s=cpu()))
            if "client" not in skip:
                with fresh_server(f"client-{rnd}") as (uri, cpu):
                    say(f"round {rnd}: MlflowClient.log_batch ...")
                    trials.setdefault("mlflow_client", []).append(
                        dict(mlflow_client(args.python, uri, rows, tmp, meta),
                             server_cpu_s=cpu()))
            if "runwal" not in skip:
                say(f"round {rnd}: writing the runwal run ...")
                run_dir = make_run(tmp / f"runs-{rnd}", "bench-runwal", args.steps, args.keys)
                with fresh_server(f"runwal-{rnd}") as (uri, cpu):
                    say(f"round {rnd}: runwal sync ...")
                    r = runwal_sync(args.python, uri, [run_dir], workers=1)
                    r["server_cpu_s"] = cpu()
                    with httpx.Client(timeout=60) as http:
                        sid = server_run_for(http, uri, "bench-runwal", run_dir.name)
                        r["server_history_len_first_key"] = (
                            history_len(http, uri, sid, bl.KEY_NAMES[0]) if sid else None)
                trials.setdefault("runwal_sync", []).append(
                    dict(r, points=points, steps=args.steps))
            if "rest4" not in skip:
                with fresh_server(f"rest4-{rnd}") as (uri, cpu):
                    say(f"round {rnd}: raw REST, 4 connections ...")
                    trials.setdefault("rest_4conn", []).append(
                        dict(rest_ceiling(uri, rows, 4, meta), server_cpu_s=cpu()))
        for key, runs in trials.items():
            by_time = sorted(runs, key=lambda t: t["seconds"])
            big[key] = dict(by_time[len(by_time) // 2],
                            rounds_s=[round(t["seconds"], 2) for t in runs])
        if "small" not in skip:
            for w in (int(x) for x in args.workers.split(",")):
                say(f"{args.small_runs} small runs, --workers {w}: writing ...")
                root = tmp / f"small-w{w}"
                dirs = [make_run(root, "bench-small", args.small_steps, args.small_keys,
                                 seed=i) for i in range(args.small_runs)]
                with fresh_server(f"small-w{w}") as (uri, cpu):
                    say(f"{args.small_runs} small runs, --workers {w}: syncing ...")
                    r = runwal_sync(args.python, uri, dirs, workers=w)
                    r["server_cpu_s"] = cpu()
                r["points"] = args.small_runs * args.small_steps * args.small_keys
                res["small"][str(w)] = r
                shutil.rmtree(root, ignore_errors=True)
        if "lag" not in skip:
            syncd = has_syncd(args.python)
            with fresh_server("lag") as (uri, _):
                say(f"live lag ({'runwal syncd' if syncd else 'follow mode; no syncd'}) ...")
                res["lag"] = livelag.measure(runwal_cmd(args.python), args.python, uri,
                                             tmp / "live", args.lag_points, syncd=syncd)
    info["loadavg_1m_end"] = os.getloadavg()[0]
    text = report(res)
    print(text)
    path = bl.write_results("sync_bench", res)
    print(f"\nload average {info['loadavg_1m']:.2f} -> {info['loadavg_1m_end']:.2f}; "
          f"results in {path}")


def report(res: dict[str, Any]) -> str:
    big = res["big"]
    labels = {
        "rest_1conn": "raw REST log-batch, 1 connection (ceiling)",
        "mlflow_client": "MlflowClient.log_batch x1000",
        "runwal_sync": "runwal sync (process wall time)",
        "rest_4conn": "raw REST log-batch, 4 connections (ceiling)",
    }
    rows = []
    for k, label in labels.items():
        if k in big:
            b = big[k]
            b["points_per_s"] = b["points"] / b["seconds"]
            rounds = ", ".join(f"{x:.1f}" for x in b.get("rounds_s", []))
            rows.append([label, f"{b['points']:,}", bl.fmt(b["seconds"], 2),
                         f"{b['points_per_s']:,.0f}", bl.fmt(b.get("server_cpu_s"), 1),
                         rounds])
    out = [bl.markdown_table(["contender", "points", "median s", "points/s", "server CPU s",
                              "every round (s)"], rows)]
    if res["small"]:
        srows = []
        for w, r in res["small"].items():
            r["points_per_s"] = r["points"] / r["seconds"]
            srows.append([w, r["runs"], f"{r['points']:,}", bl.fmt(r["seconds"], 2),
                          f"{r['points_per_s']:,.0f}", bl.fmt(r["runs"] / r["seconds"], 1),
                          bl.fmt(r.get("server_cpu_s"), 1), json.dumps(r["statuses"])])
        out += ["", bl.markdown_table(
            ["--workers", "runs", "points", "seconds", "points/s", "runs/s", "server CPU s",
             "statuses"], srows)]
    lag = res["lag"]
    if lag is not None:
        if "p50_s" in lag:
            out += ["", f"live lag ({lag['follower']}): p50 {lag['p50_s']:.3f} s, "
                        f"p99 {lag['p99_s']:.3f} s over {lag['n']} points "
                        f"(target p50 < 1 s: {'met' if lag['p50_s'] < 1 else 'MISSED'})"]
        else:
            out += ["", f"live lag: {lag.get('status')}"]
    out += ["", *targets(res)]
    return "\n".join(out)


def targets(res: dict[str, Any]) -> list[str]:
    big = res["big"]
    lines = []
    rw = big.get("runwal_sync")
    if rw:
        rate = rw["points"] / rw["seconds"]
        cl = big.get("mlflow_client")
        if cl:
            c = cl["points"] / cl["seconds"]
            lines.append(f"- runwal sync {rate:,.0f} pts/s vs MlflowClient {c:,.0f} pts/s "
                         f"(target >=): {'met' if rate >= c else 'MISSED'}")
        ceil = max((big[k]["points"] / big[k]["seconds"] for k in ("rest_1conn", "rest_4conn")
                    if k in big), default=None)
        if ceil:
            lines.append(f"- runwal sync = {100 * rate / ceil:.0f}% of the best raw REST ceiling "
                         f"{ceil:,.0f} pts/s (target >= 90%): "
                         f"{'met' if rate >= 0.9 * ceil else 'MISSED'}")
        got = rw.get("server_history_len_first_key")
        lines.append(f"- points on the server for the first key: {got} (expected {rw['steps']})")
    return lines


if __name__ == "__main__":
    main()
