"""A Lightning script with ``WandbLogger``: lightning.pytorch.loggers.WandbLogger
checks wandb's version (importlib.metadata), imports wandb.sdk.lib.RunDisabled and
wandb.wandb_run.Run, defines ``trainer/global_step`` as the x-axis and logs each
metric row with it; with ``log_model=True`` the best checkpoint is logged at the end
as a wandb.Artifact of type "model" (``add_file(..., policy="mutable")``,
``run.log_artifact(aliases=["latest", "best"])``). Tiny model, random data, CPU."""

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger


class Regressor(LightningModule):
    def __init__(self, lr=0.05, hidden=4):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.Linear(hidden, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader(n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=4)


if __name__ == "__main__":
    seed_everything(0)
    logger = WandbLogger(project="pl-tiny", name="regressor", log_model=True)
    checkpoint = ModelCheckpoint(dirpath="checkpoints", monitor="val_loss", save_top_k=1)
    trainer = Trainer(max_epochs=2, logger=logger, accelerator="cpu", devices=1,
                      log_every_n_steps=1, callbacks=[checkpoint],
                      enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Regressor(), loader(8, 1), loader(4, 2))
