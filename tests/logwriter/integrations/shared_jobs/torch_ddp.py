"""A plain torch DDP job (gloo, CPU) writing one shared run: ``logwriter.init(shared=True)``.

Run by test_shared_torchrun.py under ``torchrun --nproc-per-node 2 --rdzv-id <id>``;
the run id is torchrun's (TORCHELASTIC_RUN_ID). argv: RUNS_DIR STEPS [KILL_RANK1_AT]
(rank 1 SIGKILLs itself after that many steps, the others keep going).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import torch
import torch.distributed as dist

import logwriter


def main() -> None:
    runs, steps = sys.argv[1], int(sys.argv[2])
    kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else -1
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    run = logwriter.init(project="shared", shared=True, dir=runs, mode="offline",
                         stats_interval=0.2, flush_interval=0.05)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(rank)
    for step in range(steps):
        x, y = torch.randn(8, 4, generator=gen), torch.randn(8, 1, generator=gen)
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        # commit=True: the row is written now, not when the next step opens (what the
        # kill test counts on: rank 1's last row is on disk before it dies).
        if rank == 0:
            run.log({"loss": loss.item()}, step=step, commit=True)
        else:
            run.log({"local_loss": loss.item()}, step=step, commit=True)
        print(f"rank {rank} step {step} loss {loss.item():.4f}", flush=True)
        if rank == 1 and step == kill_at:
            time.sleep(0.3)  # past a flush interval: what was logged is on disk
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.05)
    run.finish()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
