"""A plain wandb script that leans on wandb's semantics: config attribute access and
update(allow_val_change=True), define_metric("val/*", step_metric="epoch") with
summary rules, explicit summary keys, the run's attributes (url, dir, resumed,
project, tags), files written into ``wandb.run.dir`` and never ``wandb.save()``d
(uploaded at the end, as wandb does), a run used as a context manager, and a second
process that
resumes the run (WANDB_RESUME / WANDB_RUN_ID in the environment, as a scheduler
requeue sets them). ``python wandb_features.py train`` or ``... resume``."""

import json
import os
import sys

import wandb

phase = sys.argv[1]
if phase == "train":
    assert wandb.run is None
    with wandb.init(project="features", config={"lr": 0.01, "epochs": 3,
                                                "model": {"depth": 2}},
                    tags=["baseline"], notes="first try") as run:
        assert wandb.run is run and not run.resumed
        assert wandb.config.lr == 0.01 and wandb.config["epochs"] == 3
        assert run.config.as_dict()["model"] == {"depth": 2}
        wandb.config.update({"lr": 0.02}, allow_val_change=True)
        wandb.config.batch_size = 8
        wandb.define_metric("epoch")
        wandb.define_metric("val/*", step_metric="epoch", summary="max")
        wandb.define_metric("train/loss", summary="min")
        for epoch in range(wandb.config.epochs):
            for i in range(4):
                wandb.log({"train/loss": 1.0 / (1 + epoch * 4 + i)})
            wandb.log({"epoch": epoch, "val/acc": [0.5, 0.8, 0.7][epoch]})
        wandb.summary["best_epoch"] = 1
        run.summary.update({"note": "done"})
        run.tags = (*run.tags, "tuned")
        with open(os.path.join(wandb.run.dir, "notes.txt"), "w") as fh:
            fh.write("lr 0.02 was better\n")
        os.makedirs(os.path.join(run.dir, "ckpt"), exist_ok=True)
        with open(os.path.join(run.dir, "ckpt", "state.json"), "w") as fh:
            json.dump({"epoch": 2}, fh)
        info = {"id": run.id, "url": run.url, "dir": run.dir, "project": run.project,
                "tags": list(run.tags), "step": run.step, "summary_acc": run.summary["val/acc"]}
        print("RUNINFO " + json.dumps(info))
    assert wandb.run is None
else:
    run = wandb.init(project="features")
    assert run.resumed and run.id == os.environ["WANDB_RUN_ID"]
    assert wandb.config.lr == 0.02 and run.step == 15
    wandb.log({"epoch": 3, "val/acc": 0.9})
    print("RUNINFO " + json.dumps({"url": run.url, "step": run.step}))
    wandb.finish()
