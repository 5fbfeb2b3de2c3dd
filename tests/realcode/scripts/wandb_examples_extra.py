"""Patterns from wandb's own examples and popular libraries that stopped under the shim:
wandb's "metrics-at-different-steps" example (``wandb.log()`` with no data commits a
step), ``import wandb.plot`` / ``from wandb.plot import ...`` as a module, and
ultralytics' ``wandb.plot_table(vega_spec, table, fields, string_fields)``."""

import wandb
import wandb.plot
from wandb.plot import line

run = wandb.init(project="extras")
for step in range(3):
    wandb.log({"train/loss": 1.0 / (step + 1)}, commit=False)
    if step % 2 == 0:
        wandb.log({"eval/acc": 0.1 * step}, commit=False)
    wandb.log()  # commit the step (wandb's metrics-at-different-steps example)
table = wandb.Table(columns=["x", "y"], data=[[0, 1.0], [1, 0.5]])
wandb.log({"curve": line(table, "x", "y", title="curve"),
           "pr": wandb.plot_table("wandb/area-under-curve/v0", table, {"x": "x", "y": "y"},
                                  {"title": "PR"}),
           "also": wandb.plot.scatter(table, "x", "y")})
wandb.finish()
