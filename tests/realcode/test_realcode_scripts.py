"""Plain ``import wandb`` scripts in the styles found in the wild, under ``runwal run``:
nanoGPT, cleanrl, and a script that leans on wandb's semantics (define_metric,
summary rules, config attribute access, run attributes, resume)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logwriter_util import history, merged, of_kind
from realcode.conftest import Ran, run_in, sync
from syncutil import artifact, client


def _info(stdout: str) -> dict[str, Any]:
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("RUNINFO ")]
    return dict(json.loads(line[len("RUNINFO "):]))


def test_nanogpt_style_script_logs_and_syncs(run_script: Any, mlflow_uri: str) -> None:
    ran = run_script("nanogpt_style.py")
    records = ran.records()
    head = of_kind(records, "run")[0]
    assert (head["project"], head["name"]) == ("owt", "gpt2-tiny")
    config = merged(records, "config")
    assert config["batch_size"] == 4 and config["learning_rate"] == 6e-4
    assert config["wandb_run_name"] == "gpt2-tiny" and config["compile"] is False
    rows = history(records)
    assert sorted(rows) == [0, 1, 2, 3]  # one row per eval: wandb's own step counter
    assert [rows[s]["iter"] for s in range(4)] == [0, 2, 4, 6]
    assert all(isinstance(rows[s]["train/loss"], float) for s in rows)  # 0-d tensors
    assert rows[0]["mfu"] == -100.0
    text = "".join(b["text"] for b in of_kind(records, "console"))
    assert "step 0: train loss" in text
    assert of_kind(records, "exit")[0]["status"] == "finished"  # no wandb.finish(): atexit

    row = sync(ran.only(), mlflow_uri)
    mlflow = client(mlflow_uri)
    server = mlflow.get_run(row["server_run_id"])
    assert server.data.params["batch_size"] == "4" and server.info.status == "FINISHED"
    losses = mlflow.get_metric_history(row["server_run_id"], "train/loss")
    assert [(m.step, m.value) for m in losses] == [(s, rows[s]["train/loss"]) for s in range(4)]
    assert mlflow.get_experiment(row["experiment_id"]).name == "owt"


@pytest.fixture(scope="module")
def cleanrl(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """One run of the cleanrl script for both of its tests (a torch child costs seconds)."""
    return run_in(tmp_path_factory.mktemp("cleanrl"), "cleanrl_style.py", "--track",
                  "--wandb-entity", "rl-lab")


def test_cleanrl_style_script_records_config_and_code(cleanrl: Ran) -> None:
    ran = cleanrl
    records = ran.records()
    config = merged(records, "config")
    assert config["env_id"] == "CartPole-v1" and config["total_timesteps"] == 40
    assert config["track"] is True and config["wandb_entity"] == "rl-lab"
    assert config["_wandb/monitor_gym"] is True
    head = of_kind(records, "run")[0]
    assert head["project"] == "cleanRL" and head["entity"] == "rl-lab"
    assert head["name"].startswith("CartPole-v1__cleanrl_style__1__")
    assert [b["path"] for b in of_kind(records, "file")] == ["cleanrl_style.py"]
    saved = ran.only() / "files" / "cleanrl_style.py"
    assert "sync_tensorboard=True" in saved.read_text()
    assert of_kind(records, "exit")[0]["status"] == "finished"


def test_cleanrl_style_tensorboard_scalars_land_in_the_run(cleanrl: Ran) -> None:
    """sync_tensorboard=True: the SummaryWriter's scalars become history at their
    TensorBoard step (one record per scalar, as the event file has them)."""
    records = cleanrl.records()
    points: dict[str, list[int]] = {}
    for body in of_kind(records, "history"):
        for key in body["data"]:
            points.setdefault(key, []).append(body["step"])
    assert points["charts/episodic_return"] == [9, 19, 29, 39]
    assert points["losses/td_loss"] == [0, 10, 20, 30]
    assert points["charts/SPS"] == [0, 10, 20, 30]
    assert "losses/td_loss" in merged(records, "summary")


def test_wandb_semantics_script_define_metric_summary_resume_url(
        run_script: Any, mlflow_uri: str) -> None:
    ran = run_script("wandb_features.py", "train")
    info = _info(ran.proc.stdout)
    run_dir = ran.only()
    assert info["url"] == run_dir.as_uri() and Path(info["dir"]) == run_dir / "files"
    assert info["project"] == "features" and info["tags"] == ["baseline", "tuned"]
    assert info["step"] == 15 and info["summary_acc"] == 0.8
    records = ran.records()
    config = merged(records, "config")
    assert config == {"lr": 0.02, "epochs": 3, "model": {"depth": 2}, "batch_size": 8,
                      "_wandb/tags": ["baseline", "tuned"]}
    defs = {d["name"]: d for d in of_kind(records, "metric_def")}
    assert defs["val/*"]["step_metric"] == "epoch" and defs["val/*"]["summary"] == "max"
    summary = merged(records, "summary")
    assert summary["val/acc"] == 0.8 and summary["train/loss"] == 1 / 12
    assert summary["epoch"] == 2 and summary["best_epoch"] == 1 and summary["note"] == "done"
    assert of_kind(records, "exit")[0]["status"] == "finished"
    # Written into wandb.run.dir, never saved: recorded at finish, as wandb uploads them.
    assert [(b["path"], b["policy"]) for b in of_kind(records, "file")] == [
        ("notes.txt", "end"), ("ckpt/state.json", "end")]

    row = sync(run_dir, mlflow_uri)
    mlflow = client(mlflow_uri)
    acc = mlflow.get_metric_history(row["server_run_id"], "val/acc")
    assert [(m.step, m.value) for m in acc] == [(0, 0.5), (1, 0.8), (2, 0.7)]  # x: epoch
    assert len(mlflow.get_metric_history(row["server_run_id"], "train/loss")) == 12
    assert artifact(mlflow_uri, row["server_run_id"], "notes.txt") == b"lr 0.02 was better\n"
    assert json.loads(artifact(mlflow_uri, row["server_run_id"], "ckpt/state.json")) == {
        "epoch": 2}

    again = run_script("wandb_features.py", "resume",
                       env={"WANDB_RESUME": "allow", "WANDB_RUN_ID": info["id"]})
    resumed = _info(again.proc.stdout)
    assert resumed["url"] == row["url"]  # the MLflow run's page, from the sync checkpoint
    assert resumed["step"] == 16
    final = merged(again.records(run_dir), "summary")
    assert final["val/acc"] == 0.9 and final["train/loss"] == 1 / 12


def test_wandb_examples_that_used_to_stop_run_as_with_wandb(run_script: Any) -> None:
    """wandb.log() with no data commits a step; wandb.plot is a module; plot_table logs
    its table (tests/realcode/scripts/wandb_examples_extra.py)."""
    ran = run_script("wandb_examples_extra.py")
    records = ran.records()
    rows = history(records)
    assert rows == {0: {"train/loss": 1.0, "eval/acc": 0.0}, 1: {"train/loss": 0.5},
                    2: {"train/loss": 1.0 / 3, "eval/acc": 0.2}}
    charts = {m["key"]: m["items"][0]["chart"] for m in of_kind(records, "media")}
    assert charts["curve"]["type"] == "line" and charts["also"]["type"] == "scatter"
    assert charts["pr"] == {"type": "custom", "title": "wandb/area-under-curve/v0",
                            "fields": {"x": "x", "y": "y"}, "string_fields": {"title": "PR"}}
    assert of_kind(records, "exit")[0]["status"] == "finished"
