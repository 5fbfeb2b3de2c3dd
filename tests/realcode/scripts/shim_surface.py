"""The names scripts and frameworks touch on ``wandb`` besides init/log: version
checks, submodules, terminal helpers, no-op service calls, preemption, and the
WANDB_* environment (set by the test)."""

import importlib.metadata
import json

import wandb
import wandb.errors
from wandb.sdk.lib import RunDisabled
from wandb.sdk.lib.config_util import ConfigError
from wandb.wandb_run import Run

out = {"metadata_version": importlib.metadata.version("wandb"),
       "module_version": wandb.__version__,
       "generate_id": len(wandb.util.generate_id()),
       "run_before": wandb.run is None,
       "errors": issubclass(wandb.errors.CommError, wandb.errors.Error),
       "config_error": issubclass(ConfigError, Exception)}
assert wandb.login(key="x") is True and wandb.require("service") is None
wandb.setup()
wandb.termlog("a line")
wandb.termwarn("twice", repeat=False)
wandb.termwarn("twice", repeat=False)
run = wandb.init(settings=wandb.Settings(console="off", x_disable_stats=True))
out.update(isinstance_run=isinstance(run, Run), not_disabled=not isinstance(run, RunDisabled),
           project=run.project, entity=run.entity, dir=run.dir, disabled=run.disabled)
wandb.log({"x": 1}, commit=True, sync=False)
wandb.mark_preempting()
print("RUNINFO " + json.dumps(out))
wandb.teardown(exit_code=1)  # marked preempting: ends "preempted", not "failed"
