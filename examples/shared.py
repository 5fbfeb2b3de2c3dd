"""Data-parallel ranks: one runwal run for the whole job, every rank writing (shared mode).

Each process opens the same run with ``shared=True`` and writes a stream of its
own (``runs/<id>/streams/rank_<N>/``; rank 0, the primary, writes the run's
``log/``): no two processes share a file, a rank that dies costs only its own
tail, and ``runwal sync`` makes ONE MLflow run of it: rank 0's metrics as they
are, the others' under ``rank_<N>/``, every rank's system metrics and console.
Under ``torchrun --rdzv-id JOB`` or Slurm, ``init(shared=True)`` takes the id,
rank and label from the environment; here multiprocessing stands in for the
launcher and sets ``RANK``/``WORLD_SIZE`` itself.

    python examples/shared.py --world-size 4 --dir ./runs
    torchrun --nproc-per-node 4 --rdzv-id job1 your_train.py   # with init(shared=True)
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os

import logwriter


def worker(rank: int, world: int, steps: int, runs_dir: str | None, run_id: str) -> None:
    os.environ["RANK"], os.environ["WORLD_SIZE"] = str(rank), str(world)  # what torchrun sets
    with logwriter.init(project="runwal-shared", id=run_id, shared=True, dir=runs_dir,
                        config={"world_size": world}) as run:
        for step in range(steps):
            # Every rank logs its own shard's loss; rank 0 also logs the global lr.
            row = {"loss": math.exp(-step / 50) + 0.01 * rank}
            if rank == 0:
                row["lr"] = 0.1 * 0.99**step
            run.log(row, step=step)
        print(f"rank {rank}: stream {run.settings.label} of run {run.id} in {run.run_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dir", default=None, help="runs directory (default ./runs)")
    parser.add_argument("--id", default="shared-example", help="the run id every rank opens")
    args = parser.parse_args()
    # "spawn" like torchrun's fresh processes: no writer state crosses a fork.
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=worker, args=(r, args.world_size, args.steps, args.dir, args.id))
             for r in range(args.world_size)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise SystemExit(f"{len(bad)} rank(s) failed: exit codes {bad}")


if __name__ == "__main__":
    main()
