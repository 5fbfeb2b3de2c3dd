"""Lightning DDP (gloo, CPU) under torchrun with ``RunwalLogger(shared=True)``.

argv: RUNS_DIR. Run by test_shared_torchrun.py as ``torchrun --nproc-per-node 2``
without ``--rdzv-id``: the ranks agree on the run id through the logger itself.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from logwriter.integrations.lightning import RunwalLogger

warnings.filterwarnings("ignore")  # Lightning's advice on workers, tensor cores, ...


class Tiny(LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss, sync_dist=True)
        print(f"rank {self.global_rank} step {self.global_step} loss {loss.item():.4f}",
              flush=True)
        time.sleep(0.1)  # long enough for system-metric samples on every rank
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    runs = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g))
    logger = RunwalLogger(project="shared-lightning", dir=runs, mode="offline", shared=True,
                          stats_interval=0.2)
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1,
                      limit_train_batches=8, log_every_n_steps=1, logger=logger,
                      enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, default_root_dir=runs + "-root")
    trainer.fit(Tiny(), DataLoader(data, batch_size=2))
    print(f"rank {trainer.global_rank} done, run {logger.version}", flush=True)


if __name__ == "__main__":
    main()
