"""RunwalCallback under a real transformers Trainer (CPU, a tiny BERT built here, no downloads)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import logwriter  # noqa: E402
from logwriter.integrations.transformers import (  # noqa: E402
    RunwalCallback,
    jsonable,
    rewrite_logs,
)
from logwriter_util import QUIET, history, merged, of_kind, read_clean  # noqa: E402


@pytest.fixture(autouse=True)
def no_tqdm_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers' checkpoint writer shows a tqdm bar, whose monitor thread (tqdm's,
    not runwal's) outlives the test; the leaked-thread fixture would flag it."""
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 100, (n, 8), generator=gen)
        self.labels = torch.randint(0, 2, (n,), generator=gen)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def tiny_model() -> Any:
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, vocab_size=100,
                                     max_position_embeddings=16)
    return transformers.BertForSequenceClassification(config)


def trainer(tmp_path: Path, callback: RunwalCallback, max_steps: int = 6, **more: Any) -> Any:
    torch.manual_seed(0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=max_steps, logging_steps=2,
        eval_strategy="steps", eval_steps=3, save_steps=3, report_to="none", use_cpu=True,
        per_device_train_batch_size=4, per_device_eval_batch_size=4, disable_tqdm=True,
        learning_rate=3e-4, dataloader_num_workers=0, **more)
    return transformers.Trainer(tiny_model(), args, train_dataset=RandomTokens(24, 1),
                                eval_dataset=RandomTokens(8, 2), callbacks=[callback])




def only_run(runs: Path) -> Path:
    dirs = [p for p in runs.rglob("log") if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0].parent


def test_rewrite_logs_follows_transformers() -> None:
    from transformers.integrations.integration_utils import rewrite_logs as theirs

    logs = {"loss": 1.0, "eval_loss": 2.0, "test_acc": 0.5, "epoch": 1.5, "learning_rate": 1e-3}
    assert rewrite_logs(logs) == theirs(logs)
    assert rewrite_logs(logs)["eval/loss"] == 2.0


def test_jsonable_makes_model_configs_storable() -> None:
    import enum

    class Kind(enum.Enum):
        A = "a"

    value = {"id2label": {0: "neg", 1: "pos"}, "kind": Kind.A, "dtype": torch.float32,
             "path": Path("/x"), "set": {"b", "a"}, "tuple": (1, 2)}
    assert jsonable(value) == {"id2label": {"0": "neg", "1": "pos"}, "kind": "a",
                               "dtype": "torch.float32", "path": "/x", "set": ["a", "b"],
                               "tuple": [1, 2]}


def test_trainer_run_lands_in_the_run_dir(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    callback = RunwalCallback(dir=runs, project="hf", log_checkpoints=True, **QUIET)
    trainer(tmp_path, callback).train()
    assert logwriter.run is None  # the callback started the run and finished it

    records = read_clean(only_run(runs))
    config = merged(records, "config")
    assert config["learning_rate"] == 3e-4
    assert config["max_steps"] == 6
    assert config["model"]["hidden_size"] == 16
    assert config["model"]["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert config["model"]["num_parameters"] > 0

    rows = history(records)
    assert [s for s, row in sorted(rows.items()) if "train/loss" in row] == [2, 4, 6]
    assert [s for s, row in sorted(rows.items()) if "eval/loss" in row] == [3, 6]
    assert all("train/learning_rate" in rows[s] and "train/epoch" in rows[s] for s in (2, 4, 6))
    assert not any(k in row for row in rows.values() for k in ("train/train_runtime",
                                                                "train_runtime"))

    summary = merged(records, "summary")
    assert summary["train_runtime"] > 0
    assert {"train_samples_per_second", "train_loss", "total_flos"} <= set(summary)
    assert summary["eval/loss"] == rows[6]["eval/loss"]

    files = {f["path"] for f in of_kind(records, "file")}
    for step in (3, 6):
        assert f"checkpoint-{step}/model.safetensors" in files
        assert f"checkpoint-{step}/trainer_state.json" in files
    saved = only_run(runs) / "files" / "checkpoint-6" / "model.safetensors"
    assert saved.stat().st_size > 0

    exits = of_kind(records, "exit")
    assert len(exits) == 1 and exits[0]["status"] == "finished"


def test_evaluate_and_predict_after_train_reopen_the_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    t = trainer(tmp_path, RunwalCallback(dir=runs, **QUIET), max_steps=2, run_name="tiny")
    t.train()
    t.evaluate()
    t.predict(RandomTokens(4, 3))
    assert logwriter.run is None

    records = read_clean(only_run(runs))
    assert of_kind(records, "run")[0]["name"] == "tiny"  # args.run_name names the run
    assert [e["status"] for e in of_kind(records, "exit")] == ["finished"] * 3
    rows = history(records)
    assert "eval/loss" in rows[2]  # the eval during train()
    assert rows[3]["train/global_step"] == 2 and "eval/loss" in rows[3]  # evaluate() after
    assert "test/loss" in merged(records, "summary")
    assert not of_kind(records, "file")  # log_checkpoints defaults to off


def test_evaluate_alone_gets_a_finished_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainer(tmp_path, RunwalCallback(dir=runs, **QUIET)).evaluate()
    assert logwriter.run is None
    records = read_clean(only_run(runs))
    assert merged(records, "config")["model"]["hidden_size"] == 16
    assert "eval/loss" in history(records)[0]
    assert [e["status"] for e in of_kind(records, "exit")] == ["finished"]


def test_a_run_the_script_started_is_used_and_left_open(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = logwriter.init(dir=runs, config={"mine": 1}, **QUIET)
    try:
        trainer(tmp_path, RunwalCallback(), max_steps=2).train()
        assert logwriter.run is run
        run.log({"after": 1.0})
    finally:
        run.finish()
    records = read_clean(only_run(runs))
    config = merged(records, "config")
    assert config["mine"] == 1 and config["max_steps"] == 2
    assert len(of_kind(records, "exit")) == 1


def test_importing_logwriter_does_not_import_transformers() -> None:
    import subprocess

    code = "import logwriter, sys; assert 'transformers' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
