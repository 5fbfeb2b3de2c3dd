"""An accelerate script with ``Accelerator(log_with="wandb")``: accelerate's
WandBTracker checks that wandb is installed (importlib.metadata), calls
wandb.init(project=..., **init_kwargs), config.update(allow_val_change=True) and
run.log(values, step=step)."""

import torch
from accelerate import Accelerator

if __name__ == "__main__":
    accelerator = Accelerator(log_with="wandb", cpu=True)
    accelerator.init_trackers("acc-proj", config={"lr": 0.1, "epochs": 2, "opt": "sgd"},
                              init_kwargs={"wandb": {"name": "acc-run", "tags": ["accel"]}})
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt = accelerator.prepare(model, opt)
    x = torch.randn(8, 2)
    y = x.sum(dim=1, keepdim=True)
    for step in range(5):
        loss = torch.nn.functional.mse_loss(model(x), y)
        accelerator.backward(loss)
        opt.step()
        opt.zero_grad()
        accelerator.log({"train_loss": loss.item(), "epoch": step // 3}, step=step)
    accelerator.end_training()
