"""Live lag: seconds from a log() call until its point can be read from MLflow.

A run is started in ROOT, then a follower: ``runwal syncd ROOT --to URI``
when the CLI has it, else the syncer library's follow mode
(``syncer.engine.replay.sync_run(run_dir, sink, follow=True)``, its default 0.5 s
poll) in a child process. Once the server has the run, this process logs one
point every ``interval`` seconds (its step is the probe's index, its log()
wall-clock time is remembered) and polls the server's metric history every
50 ms. A point's lag is the time it was first seen minus the time it was
logged: the SDK's group commit (flush_interval 0.1 s), the follower noticing
the new frame, the request, and up to 50 ms of polling.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import benchlib as bl
import httpx

PROBE_KEY = "lag/probe"
POLL_S = 0.05

FOLLOW_SCRIPT = textwrap.dedent("""
    import signal, sys, threading
    from syncer.sinks.mlflow.rest import MlflowRest, build_client
    from syncer.engine.replay import sync_run
    from syncer.sinks.mlflow.sink import MlflowSink
    uri, run_dir = sys.argv[1], sys.argv[2]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    with build_client() as http:
        sink = MlflowSink(MlflowRest(uri, http, stop=stop))
        try:
            res = sync_run(run_dir, sink, follow=True, stop=stop)
        finally:
            sink.close()
    print(res.status, res.reason)
""")


def follower_cmd(runwal: list[str], python: str, uri: str, root: Path, run_dir: Path,
                 syncd: bool, watch_root: Path | None = None) -> list[str]:
    if syncd:
        if watch_root is not None:  # another client's view of root: poll, as on NFS
            return [*runwal, "syncd", str(watch_root), "--to", uri, "--watch", "poll"]
        return [*runwal, "syncd", str(root), "--to", uri]
    return [python, "-c", FOLLOW_SCRIPT, uri, str(run_dir)]


def measure(runwal: list[str], python: str, uri: str, root: Path, n: int, *, syncd: bool,
            interval: float = 0.2, timeout: float = 60.0,
            watch_root: Path | None = None) -> dict[str, Any]:
    """Lag p50/p99 over ``n`` probe points; starts and stops the follower (``watch_root``:
    syncd watches that path, another mount of ``root``, instead)."""
    from sync_bench import server_run_for

    import logwriter

    root.mkdir(parents=True, exist_ok=True)
    log_path = root.parent / "follower.log"
    run = logwriter.init(project="bench-live", dir=str(root), capture_console=False,
                         stats_interval=0)
    cmd = follower_cmd(runwal, python, uri, root, Path(run.run_dir), syncd, watch_root)
    with open(log_path, "wb") as log:
        follower = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    logged: dict[int, float] = {}
    seen: dict[int, float] = {}
    try:
        with httpx.Client(timeout=10) as http:
            sid = None
            until = time.monotonic() + timeout
            while sid is None and time.monotonic() < until and follower.poll() is None:
                sid = server_run_for(http, uri, "bench-live", run.id)
                time.sleep(0.1)
            if sid is None:
                return {"status": f"the follower never created the run; see {log_path}"}
            next_log = time.time()
            until = time.monotonic() + timeout + n * interval
            while len(seen) < n and time.monotonic() < until:
                if len(logged) < n and time.time() >= next_log:
                    i = len(logged)
                    logged[i] = time.time()
                    run.log({PROBE_KEY: float(i)})  # no step=: committed now, at step i
                    next_log += interval
                r = http.get(f"{uri}/api/2.0/mlflow/metrics/get-history",
                             params={"run_id": sid, "metric_key": PROBE_KEY})
                t_seen = time.time()
                if r.status_code == 200:
                    for m in r.json().get("metrics", []):
                        step = int(m.get("step", 0))
                        if step in logged and step not in seen:
                            seen[step] = t_seen
                time.sleep(POLL_S)
    finally:
        run.finish()
        follower.send_signal(signal.SIGTERM)
        try:
            follower.wait(timeout=30)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()
    lags = sorted(seen[s] - logged[s] for s in seen)
    how = "runwal syncd" if syncd else "syncer follow mode (sync_run(follow=True)); syncd not built"
    if not lags:
        return {"status": f"no point reached the server; see {log_path}", "follower": how}
    return {"follower": how, "n": len(lags), "expected": n, "p50_s": bl.percentile(lags, 50),
            "p99_s": bl.percentile(lags, 99), "max_s": lags[-1], "interval_s": interval}


def measure_through_sshfs(uri: str, base: Path, n: int) -> dict[str, Any]:
    """The login node's lag: the run written in ``base/data/runs``, syncd watching the
    same directory through sshfs (tests/sshmount.py; root, sshd and sshfs needed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from sshmount import sshfs_mount

    data = base / "data"
    (data / "runs").mkdir(parents=True)
    with sshfs_mount(base / "ssh", data) as mnt:
        return measure([sys.executable, "-m", "syncer.cli"], sys.executable, uri,
                       data / "runs", n, syncd=True, interval=0.25, watch_root=mnt / "runs")


if __name__ == "__main__":
    # quick manual checks: python bench/livelag.py URI [--follow]
    #                      python bench/livelag.py URI --sshfs [N]   (root)
    if "--sshfs" in sys.argv:
        import tempfile

        rest = [a for a in sys.argv[2:] if a != "--sshfs"]
        with tempfile.TemporaryDirectory(prefix="runwal-livelag-") as tmp:
            print(measure_through_sshfs(sys.argv[1], Path(tmp), int(rest[0]) if rest else 40))
    else:
        print(measure(["runwal"], sys.executable, sys.argv[1], Path("/tmp/livelag-runs"), 20,
                      syncd="--follow" not in sys.argv))
