"""wandb names scripts use beyond init/log that runwal's shim did not have: wandb.Api
(fails with one line naming runwal's commands), wandb.apis, wandb.env, wandb.Error,
restore, link_model, Molecule, run.status/display/config_static, and the printer
lm-evaluation-harness imports."""

import json
import os

import wandb
import wandb.apis
from wandb.sdk.lib.printer import get_printer

out = {"env_project": os.environ.get(wandb.env.PROJECT),
       "error_base": issubclass(wandb.errors.CommError, wandb.Error)}
for make in (wandb.Api, wandb.apis.PublicApi):
    try:
        make()
    except wandb.errors.UsageError as exc:
        out.setdefault("api", str(exc))
try:
    wandb.Molecule("x.pdb")
except NotImplementedError as exc:
    out["molecule"] = str(exc)
run = wandb.init(config={"lr": 0.1})
wandb.log({"loss": 1.0})
with open(os.path.join(run.dir, "notes.txt"), "w") as fh:
    fh.write("kept")
wandb.save(os.path.join(run.dir, "notes.txt"))
with wandb.restore("notes.txt") as fh:
    out["restored"] = fh.read()
with open("model.bin", "wb") as fh:
    fh.write(b"weights")
art = wandb.link_model("model.bin", "best-model", name="clf")
out.update(display=run.display(), lr=run.config_static.lr, lr_item=run.config_static["lr"],
           status_total=run.status().sync_items_total, model=art.name)
get_printer().display("printed by lm-eval's logger")
wandb.finish()
print("RUNINFO " + json.dumps(out))
