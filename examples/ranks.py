"""Data-parallel ranks: one runwal run per process, grouped (wandb's pattern).

Each rank is its own process with its own run directory and writer; nothing is
shared, so ranks never contend for a file. ``group=`` ties them together and
becomes the ``runwal.group`` tag on the MLflow side. Real jobs take the rank
from ``RANK`` / ``LOCAL_RANK`` (torchrun) or ``SLURM_PROCID``; here
multiprocessing stands in for the launcher.

    python examples/ranks.py --world-size 4 --dir ./runs
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os

import logwriter


def worker(rank: int, world: int, steps: int, runs_dir: str, group: str) -> None:
    with logwriter.init(
        project="runwal-ranks", name=f"{group}-rank{rank}", group=group,
        job_type="train", dir=runs_dir, config={"rank": rank, "world_size": world},
    ) as run:  # fmt: skip
        for step in range(steps):
            # Every rank logs its own shard's loss; rank 0 also logs the global lr.
            row = {"loss": math.exp(-step / 50) + 0.01 * rank}
            if rank == 0:
                row["lr"] = 0.1 * 0.99**step
            run.log(row, step=step)
    print(f"rank {rank}: run {run.id} pid {os.getpid()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dir", default=None, help="runs directory (default ./runs)")
    parser.add_argument("--group", default="ddp-example")
    args = parser.parse_args()
    # "spawn" like torchrun's fresh processes: no writer state crosses a fork.
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=worker, args=(r, args.world_size, args.steps, args.dir, args.group))
        for r in range(args.world_size)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise SystemExit(f"{len(bad)} rank(s) failed: exit codes {bad}")


if __name__ == "__main__":
    main()
