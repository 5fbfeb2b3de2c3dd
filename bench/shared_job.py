"""A real distributed job in one shared run: 4 ranks x 2,000 steps under torchrun (CPU,
gloo), rank 2 killed with -9 at a random step, then ``runwal sync`` twice.

Checks and prints: one MLflow run; every row each rank acknowledged before the
kill (the job script appends "rank step" to a side file after each log()
returns) is on the server exactly once, under ``loss`` (rank 0) or
``rank_<N>/loss``; rows lost by rank 2 are only its last flush interval; system
metrics for every rank; the run's status; the second sync sends nothing.

    .venv/bin/python bench/shared_job.py                 # ~2 min on 2 cores
    .venv/bin/python bench/shared_job.py --ranks 2 --steps 300 --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from syncer.sinks.mlflow.loopback_server import LocalMlflowServer  # noqa: E402

PY = sys.executable
JOB = textwrap.dedent('''
    import os, sys, time
    import torch, torch.distributed as dist
    import logwriter
    runs, steps, side = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    run = logwriter.init(project="shared-job", shared=True, dir=runs, mode="offline",
                         stats_interval=0.5)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(rank)
    with open(f"{side}.{rank}", "w", buffering=1) as acked:
        for step in range(steps):
            x, y = torch.randn(32, 16, generator=gen), torch.randn(32, 1, generator=gen)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
            run.log({"loss": loss.item()}, step=step, commit=True)
            acked.write(f"{step} {time.time()}\\n")
    run.finish()
    dist.destroy_process_group()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def acked(side: Path, rank: int) -> dict[int, float]:
    out = {}
    for line in (side.parent / f"{side.name}.{rank}").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[int(parts[0])] = float(parts[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--kill-rank", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="runwal-shared-job-"))
    try:
        job, runs, side = tmp / "job.py", tmp / "runs", tmp / "acked"
        job.write_text(JOB)
        cmd = [PY, "-m", "torch.distributed.run", "--nproc-per-node", str(args.ranks),
               "--rdzv-id", "sharedjob", "--master-port", str(free_port()),
               str(job), str(runs), str(args.steps), str(side)]
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        target = random.Random(args.seed).randrange(args.steps // 4, 3 * args.steps // 4)
        victim_side = side.parent / f"{side.name}.{args.kill_rank}"
        killed_at = None
        while proc.poll() is None:
            if killed_at is None and victim_side.exists() and \
                    len(victim_side.read_text().splitlines()) >= target:
                out = subprocess.run(["pgrep", "-f", f"{job}"], capture_output=True, text=True)
                pids = [int(p) for p in out.stdout.split()]
                for pid in pids:  # the rank whose environment says RANK=kill-rank
                    try:
                        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                    except OSError:
                        continue
                    if f"RANK={args.kill_rank}".encode() in environ:
                        os.kill(pid, signal.SIGKILL)
                        killed_at = time.time()
            time.sleep(0.01)
        wall = time.monotonic() - t0
        with LocalMlflowServer(tmp / "mlflow") as server:
            first = subprocess.run([PY, "-m", "syncer.cli", "sync", str(runs), "--to",
                                    server.uri, "--json"], capture_output=True, text=True,
                                   env=env)
            again = subprocess.run([PY, "-m", "syncer.cli", "sync", str(runs), "--to",
                                    server.uri, "--json"], capture_output=True, text=True,
                                   env=env)
            import mlflow

            client = mlflow.tracking.MlflowClient(server.uri)
            found = client.search_runs(
                [e.experiment_id for e in client.search_experiments()],
                "tags.`runwal.run_id` = 'sharedjob'")
            assert len(found) == 1, f"{len(found)} server runs"
            run = found[0]
            report: dict[str, object] = {
                "job_wall_s": round(wall, 1), "torchrun_rc": proc.returncode,
                "server_runs": len(found), "status": run.info.status,
                "killed_rank": args.kill_rank, "killed": killed_at is not None}
            for rank in range(args.ranks):
                key = "loss" if rank == 0 else f"rank_{rank}/loss"
                hist = client.get_metric_history(run.info.run_id, key)
                steps = Counter(m.step for m in hist)
                got = acked(side, rank)
                lost = [s for s in got if s not in steps]
                report[f"rank {rank}"] = {
                    "acked": len(got), "on server": len(steps),
                    "duplicated": sum(1 for c in steps.values() if c > 1),
                    "acked missing": len(lost),
                    "missing window s": (round(max(got.values()) - min(got[s] for s in lost), 3)
                                         if lost else 0.0),
                    "system metrics": sum(1 for k in run.data.metrics
                                          if k.startswith(f"system/rank_{rank}/")
                                          or (rank == 0 and k.startswith("system/")
                                              and "/rank_" not in k)),
                }
            one, two = json.loads(first.stdout)["runs"][0], json.loads(again.stdout)["runs"][0]
            report["first sync"] = f"{one['status']}, {one['records']} records"
            report["second sync"] = f"{two['status']}, {two['records']} records sent"
        print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
