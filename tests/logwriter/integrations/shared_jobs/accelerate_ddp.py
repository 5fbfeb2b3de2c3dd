"""An accelerate training loop under torchrun (gloo, CPU) with ``RunwalTracker(shared=True)``.

argv: RUNS_DIR. Run by test_shared_torchrun.py as ``torchrun --nproc-per-node 2``
without ``--rdzv-id``: the processes agree on the run id through the tracker itself.
"""

from __future__ import annotations

import sys
import time
import warnings

import torch
from accelerate import Accelerator

from logwriter.integrations.accelerate import RunwalTracker

warnings.filterwarnings("ignore")


def main() -> None:
    runs = sys.argv[1]
    tracker = RunwalTracker(project="shared-accelerate", dir=runs, mode="offline", shared=True,
                            stats_interval=0.2)
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("shared-accelerate", config={"lr": 0.05, "batch": 8})
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model, opt = accelerator.prepare(model, opt)
    rank = accelerator.process_index
    gen = torch.Generator().manual_seed(rank)
    for step in range(8):
        x, y = torch.randn(8, 4, generator=gen), torch.randn(8, 1, generator=gen)
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        accelerator.backward(loss)
        opt.step()
        accelerator.log({"train/loss": loss.item()}, step=step)
        print(f"rank {rank} step {step} loss {loss.item():.4f}", flush=True)
        time.sleep(0.15)
    print(f"rank {rank} run {tracker.tracker.id if tracker.tracker else None}", flush=True)
    accelerator.end_training()


if __name__ == "__main__":
    main()
