"""The whole story on one machine: train -> WAL -> local MLflow -> sync -> look.

1. runs examples/train.py in its own process (offline: it only writes a WAL),
2. starts a local MLflow tracking server (SQLite store, local artifacts),
3. runs `runwal sync` on the run directory,
4. asks the server what arrived and prints where to look.

Everything lives under ./.demo/ (delete it to start over). Run it through
`./scripts/demo.sh`, which sets up the virtual environment first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from syncer.sinks.mlflow.loopback_server import LocalMlflowServer

ROOT = Path(__file__).resolve().parent.parent


def sh(*cmd: str) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def check(uri: str, project: str) -> str:
    """One line describing what the server holds for the demo's newest run."""
    with httpx.Client(base_url=uri, timeout=10) as http:
        exp = http.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": project}
        ).json()["experiment"]
        runs = http.post(
            "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [exp["experiment_id"]], "max_results": 1,
                  "order_by": ["attributes.start_time DESC"]},
        ).json()["runs"]  # fmt: skip
        run = runs[0]
        info, data = run["info"], run["data"]
        hist = http.get(
            "/api/2.0/mlflow/metrics/get-history",
            params={"run_id": info["run_id"], "metric_key": "train/loss", "max_results": 100000},
        ).json().get("metrics", [])
        arts = http.get(
            "/api/2.0/mlflow/artifacts/list", params={"run_id": info["run_id"]}
        ).json().get("files", [])
    return (
        f"run '{info['run_name']}' ({info['status']}): {len(hist)} train/loss points, "
        f"{len(data.get('metrics', []))} metric keys, {len(data.get('params', []))} params, "
        f"artifacts: {', '.join(sorted(a['path'] for a in arts)) or 'none'}\n"
        f"  experiment {exp['experiment_id']}, MLflow run id {info['run_id']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument(
        "--keep-serving", action=argparse.BooleanOptionalAction, default=None,
        help="keep the MLflow server up until Ctrl-C (default: only when run from a terminal)",
    )  # fmt: skip
    args = parser.parse_args()
    keep = sys.stdin.isatty() if args.keep_serving is None else args.keep_serving

    demo = ROOT / ".demo"
    runs = demo / "runs"
    project = "runwal-demo"
    print("== 1/4 training (offline, writes a WAL under .demo/runs)", flush=True)
    sh(sys.executable, str(ROOT / "examples" / "train.py"), "--steps", str(args.steps),
       "--dir", str(runs), "--project", project)  # fmt: skip
    newest = max(runs.iterdir(), key=lambda p: p.stat().st_mtime)
    sh("runwal", "verify", str(newest))

    print("== 2/4 starting a local MLflow server (SQLite under .demo/mlflow)", flush=True)
    server = LocalMlflowServer(demo / "mlflow").start()
    try:
        print(f"   up at {server.uri}", flush=True)
        print("== 3/4 syncing every run under .demo/runs", flush=True)
        sh("runwal", "sync", *sorted(str(p) for p in runs.iterdir()), "--to", server.uri)
        print("== 4/4 what the server has", flush=True)
        print("   " + check(server.uri, project), flush=True)
        print(f"\nLook at it: open {server.uri} (experiment '{project}').", flush=True)
        rel = newest.relative_to(ROOT) if newest.is_relative_to(ROOT) else newest
        print(f"Inspect the WAL itself: .venv/bin/runwal show {rel}", flush=True)
        if keep:
            print("MLflow server running; press Ctrl-C to stop it.", flush=True)
            while True:
                time.sleep(3600)
        else:
            store = demo / "mlflow"
            print(
                "Server stopped. To browse later: .venv/bin/mlflow server --port 5000 "
                f"--backend-store-uri sqlite:///{store / 'mlflow.db'} "
                f"--artifacts-destination {store / 'artifacts'}"
            )
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
