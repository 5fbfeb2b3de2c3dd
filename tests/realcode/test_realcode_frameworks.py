"""Framework code that imports wandb itself, under ``runwal run``: transformers'
WandbCallback (report_to="wandb"), Lightning's WandbLogger and accelerate's
WandBTracker get runwal's shim and log into a run directory unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from logwriter_util import history, merged, of_kind

pytest.importorskip("torch")


def test_hf_trainer_report_to_wandb(run_script: Any, tmp_path: Any) -> None:
    pytest.importorskip("transformers")
    ran = run_script("hf_trainer.py", str(tmp_path / "out"), env={"WANDB_PROJECT": "hf"})
    records = ran.records()
    head = of_kind(records, "run")[0]
    assert (head["project"], head["name"]) == ("hf", "hf-tiny")
    config = merged(records, "config")
    assert config["learning_rate"] == 3e-4 and config["max_steps"] == 4
    assert config["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}  # int keys, as wandb
    assert config["hidden_size"] == 16 and config["model/num_parameters"] > 0
    assert config["report_to"] == ["wandb"]
    defs = {d["name"]: d for d in of_kind(records, "metric_def")}
    assert defs["*"]["step_metric"] == "train/global_step" and defs["*"]["step_sync"] is True
    rows = list(history(records).values())
    losses = [(r["train/global_step"], r["train/loss"]) for r in rows if "train/loss" in r]
    assert [s for s, _ in losses] == [2, 4] and all(v > 0 for _, v in losses)
    assert [r["train/global_step"] for r in rows if "eval/loss" in r] == [4]
    summary = merged(records, "summary")
    assert summary["train_loss"] > 0 and summary["train_runtime"] > 0
    assert of_kind(records, "exit")[0]["status"] == "finished"


def test_lightning_wandb_logger(run_script: Any) -> None:
    pytest.importorskip("lightning")
    ran = run_script("lightning_wandb.py")
    records = ran.records()
    head = of_kind(records, "run")[0]
    assert (head["project"], head["name"]) == ("pl-tiny", "regressor")
    config = merged(records, "config")
    assert config["lr"] == 0.05 and config["hidden"] == 4
    assert "_wandb/anonymous" not in config  # WandbLogger's anonymous=None: not given
    defs = {d["name"]: d for d in of_kind(records, "metric_def")}
    assert defs["*"]["step_metric"] == "trainer/global_step"
    rows = list(history(records).values())
    train = [r["trainer/global_step"] for r in rows if "train_loss" in r]
    assert train == [0, 1, 2, 3]  # 2 epochs of 2 batches, every step logged
    assert [r["epoch"] for r in rows if "val_loss" in r] == [0, 1]
    (model,) = of_kind(records, "artifact")  # log_model=True: the best checkpoint at the end
    assert (model["name"], model["type"]) == (f"model-{ran.only().name}", "model")
    assert sorted(model["aliases"]) == ["best", "latest"]
    assert [e["path"] for e in model["entries"]] == ["model.ckpt"]
    assert model["metadata"]["original_filename"] == "epoch=1-step=4.ckpt"
    assert ran.only().parent == ran.cwd / "wandb"  # WandbLogger's dir=".": ./wandb/<id>
    assert of_kind(records, "exit")[0]["status"] == "finished"


def test_accelerate_log_with_wandb(run_script: Any) -> None:
    pytest.importorskip("accelerate")
    ran = run_script("accelerate_wandb.py")
    records = ran.records()
    head = of_kind(records, "run")[0]
    assert (head["project"], head["name"], head["tags"]) == ("acc-proj", "acc-run", ["accel"])
    assert merged(records, "config") == {"lr": 0.1, "epochs": 2, "opt": "sgd"}
    rows = history(records)
    assert sorted(rows) == [0, 1, 2, 3, 4] and rows[4]["epoch"] == 1
    assert all(isinstance(r["train_loss"], float) for r in rows.values())
    assert of_kind(records, "exit")[0]["status"] == "finished"


def test_ddp_spawned_workers_leave_the_parents_run_whole(run_script: Any) -> None:
    ran = run_script("ddp_spawn.py")
    runs = {d.name: d for d in ran.run_dirs()}
    (parent,) = [name for name in runs if not name.endswith("-rank0")]
    records = ran.records(runs[parent])  # read_clean: no damage, dense seqs
    assert history(records) == {0: {"before": 1}, 1: {"after": 2}}
    assert of_kind(records, "exit")[0]["status"] == "finished"
    worker = ran.records(runs[f"{parent}-rank0"])
    head = of_kind(worker, "run")[0]
    assert (head["group"], head["job_type"]) == (parent, "worker")
    assert history(worker) == {0: {"allreduce": 3.0}}
    assert merged(worker, "summary")["no_run_error"] == "RunFinishedError"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_script_written_for_wandbs_callbacks(run_script: Any) -> None:
    """wandb.integration.keras / wandb.keras imports (real wandb 0.31 needs TensorFlow
    for them) run on runwal's Keras callback under runwal run."""
    ran = run_script("keras_wandb.py", env={"KERAS_BACKEND": "torch"})
    records = ran.records()
    rows = history(records)
    epoch_losses = [d["epoch/loss"] for d in rows.values() if "epoch/loss" in d]
    assert len(epoch_losses) >= 2 and all(isinstance(v, float) for v in epoch_losses)
    saved = {b["path"] for b in of_kind(records, "file")}
    assert {"ckpt-01.keras", "ckpt-02.keras", "model.keras"} <= saved, saved
    assert of_kind(records, "exit")[0]["status"] == "finished"
