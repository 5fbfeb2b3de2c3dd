"""Live lag: seconds from a log() call until its point can be read from MLflow.

``runwal syncd ROOT --to URI`` watches ROOT; this process starts a run in
ROOT, logs one point every ``interval`` seconds (its step is the probe's
index, its log() wall-clock time is remembered), and polls the server's
metric history every 50 ms. The lag of a point is the time it was first seen
minus the time it was logged, so it includes the SDK's group commit
(flush_interval 0.1 s), syncd noticing the new frame, the request and the
poll period (up to 50 ms).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import benchlib as bl
import httpx

PROBE_KEY = "lag/probe"
POLL_S = 0.05


def measure(runwal: list[str], uri: str, root: Path, n: int, interval: float = 0.2,
            timeout: float = 60.0) -> dict[str, Any]:
    """Lag p50/p99 over ``n`` probe points; starts and stops ``runwal syncd``."""
    from sync_bench import server_run_for

    import logwriter

    root.mkdir(parents=True, exist_ok=True)
    log_path = root.parent / "syncd.log"
    with open(log_path, "wb") as log:
        syncd = subprocess.Popen([*runwal, "syncd", str(root), "--to", uri],
                                 stdout=log, stderr=subprocess.STDOUT)
    logged: dict[int, float] = {}
    seen: dict[int, float] = {}
    try:
        time.sleep(1.0)  # let syncd start watching before the run appears
        run = logwriter.init(project="bench-live", dir=str(root), capture_console=False,
                             stats_interval=0)
        sid = None
        next_log = time.time()
        deadline = time.monotonic() + timeout + n * interval
        with httpx.Client(timeout=10) as http:
            while len(seen) < n and time.monotonic() < deadline:
                now = time.time()
                if len(logged) < n and now >= next_log:
                    i = len(logged)
                    logged[i] = time.time()
                    run.log({PROBE_KEY: float(i)}, step=i)
                    next_log += interval
                if sid is None:
                    sid = server_run_for(http, uri, "bench-live", run.id)
                if sid is not None:
                    r = http.get(f"{uri}/api/2.0/mlflow/metrics/get-history",
                                 params={"run_id": sid, "metric_key": PROBE_KEY})
                    t_seen = time.time()
                    if r.status_code == 200:
                        for m in r.json().get("metrics", []):
                            step = int(m.get("step", 0))
                            if step in logged and step not in seen:
                                seen[step] = t_seen
                time.sleep(POLL_S)
        run.finish()
    finally:
        syncd.send_signal(signal.SIGTERM)
        try:
            syncd.wait(timeout=20)
        except subprocess.TimeoutExpired:
            syncd.kill()
            syncd.wait()
    lags = sorted(seen[s] - logged[s] for s in seen)
    if not lags:
        return {"status": f"no point reached the server; see {log_path}", "n": 0}
    return {"n": len(lags), "expected": n, "p50_s": bl.percentile(lags, 50),
            "p99_s": bl.percentile(lags, 99), "max_s": lags[-1], "interval_s": interval}
