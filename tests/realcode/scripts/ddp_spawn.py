"""A DDP script that spawns its workers (torch.multiprocessing.spawn, gloo on CPU)
while the parent holds a run: a spawned worker starts a fresh interpreter and
inherits no run, so ``wandb.log`` there raises as in wandb (no run); the rank-0
worker may start a run of its own (its own id, the parent's as group), and the
parent's run goes on unharmed after the workers are joined."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import wandb


def worker(rank, world, base_id, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    total = torch.tensor([float(rank + 1)])
    dist.all_reduce(total)
    try:
        wandb.log({"from_worker": rank})
        no_run = "none"
    except Exception as exc:  # the name is what the test reads
        no_run = type(exc).__name__
    if rank == 0:
        with wandb.init(id=f"{base_id}-rank0", group=base_id, job_type="worker") as run:
            run.log({"allreduce": total.item()})
            run.summary["no_run_error"] = no_run
    dist.destroy_process_group()


if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = wandb.init(project="ddp", config={"world": 2})
    wandb.log({"before": 1})
    mp.spawn(worker, args=(2, run.id, port), nprocs=2, join=True)
    wandb.log({"after": 2})
    wandb.finish()
