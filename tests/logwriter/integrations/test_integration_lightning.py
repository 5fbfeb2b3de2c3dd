"""RunwalLogger under a real Lightning Trainer on CPU: what lands in the run dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning")
import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from logwriter.integrations.lightning import RunwalLogger
from logwriter_util import QUIET, history, of_kind, read_clean

# torch 2.13 deprecates the LeafSpec check that Lightning 2.6 still makes while
# collecting a step's outputs; a framework warning, nothing of runwal's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")


class Tiny(LightningModule):
    def __init__(self, lr: float = 0.1, hidden: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(hidden, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(16, 4, generator=g), torch.randn(16, 1,
                                                                                generator=g)),
                      batch_size=4)


def fit(logger: RunwalLogger, tmp_path: Path, **trainer_kwargs: Any) -> Trainer:
    trainer = Trainer(accelerator="cpu", max_epochs=2, limit_train_batches=4,
                      limit_val_batches=2, log_every_n_steps=1, logger=logger,
                      enable_checkpointing=True, enable_progress_bar=False,
                      enable_model_summary=False, default_root_dir=tmp_path, **trainer_kwargs)
    trainer.fit(Tiny(lr=0.05), loader(), loader())
    return trainer


def test_fit_records_hyperparams_metrics_and_exit(tmp_path: Path) -> None:
    logger = RunwalLogger(project="tiny", dir=tmp_path / "runs", mode="offline", **QUIET)
    trainer = fit(logger, tmp_path)
    run_dir = Path(logger.log_dir or "")
    assert run_dir.parent == tmp_path / "runs"
    records = read_clean(run_dir)
    config: dict[str, Any] = {}
    for delta in of_kind(records, "config"):
        config.update(delta)
    assert config == {"lr": 0.05, "hidden": 4}
    rows = history(records)
    train_steps = sorted(s for s, d in rows.items() if "train/loss" in d)
    # One row per optimizer step (log_every_n_steps=1), at the trainer's step.
    assert train_steps == list(range(trainer.global_step))
    assert trainer.global_step == 8
    val_steps = sorted(s for s, d in rows.items() if "val/loss" in d)
    assert len(val_steps) == 2 and all(isinstance(rows[s]["val/loss"], float) for s in val_steps)
    exits = of_kind(records, "exit")
    assert len(exits) == 1 and exits[0]["status"] == "finished" and exits[0]["code"] == 0
    assert of_kind(records, "file") == []  # log_model=False


def test_log_model_saves_the_checkpoint_file(tmp_path: Path) -> None:
    logger = RunwalLogger(project="tiny", dir=tmp_path / "runs", mode="offline",
                          log_model=True, **QUIET)
    trainer = fit(logger, tmp_path)
    ckpt = Path(trainer.checkpoint_callback.best_model_path)  # type: ignore[union-attr]
    # ModelCheckpoint writes under save_dir/name/version, outside the run directory.
    assert ckpt.parent == tmp_path / "runs" / "tiny" / str(logger.version) / "checkpoints"
    run_dir = Path(logger.log_dir or "")
    files = of_kind(read_clean(run_dir), "file")
    assert [f["path"] for f in files] == [ckpt.name]
    assert files[0]["size"] == ckpt.stat().st_size
    assert (run_dir / "files" / ckpt.name).read_bytes() == ckpt.read_bytes()


def test_log_model_all_saves_every_checkpoint(tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    logger = RunwalLogger(project="tiny", dir=tmp_path / "runs", mode="offline",
                          log_model="all", **QUIET)
    fit(logger, tmp_path, callbacks=[ModelCheckpoint(save_top_k=-1)])
    files = of_kind(read_clean(Path(logger.log_dir or "")), "file")
    assert sorted(f["path"] for f in files) == ["epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt"]


def test_failed_fit_finishes_the_run_failed(tmp_path: Path) -> None:
    class Boom(Tiny):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if self.global_step == 2:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    logger = RunwalLogger(project="tiny", dir=tmp_path / "runs", mode="offline", **QUIET)
    trainer = Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=4,
                      log_every_n_steps=1, logger=logger, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(Boom(), loader(), loader())
    records = read_clean(logger.log_dir or "")
    assert sorted(history(records)) == [0, 1]
    exits = of_kind(records, "exit")
    assert [(e["status"], e["code"]) for e in exits] == [("failed", 1)]


def test_test_after_fit_resumes_the_same_run(tmp_path: Path) -> None:
    logger = RunwalLogger(project="tiny", dir=tmp_path / "runs", mode="offline", **QUIET)
    trainer = fit(logger, tmp_path)
    run_id = logger.version
    trainer.validate(trainer.lightning_module, dataloaders=loader(), verbose=False)
    assert logger.version == run_id
    records = read_clean(Path(logger.log_dir or ""))
    assert [e["status"] for e in of_kind(records, "exit")] == ["finished", "finished"]


def test_other_ranks_log_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning.pytorch.loggers.logger import DummyExperiment
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)  # a DDP worker's global rank
    logger = RunwalLogger(project="tiny", dir=tmp_path / "runs", mode="offline", **QUIET)
    assert isinstance(logger.experiment, DummyExperiment)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.finalize("success")
    assert logger.version is None and logger.log_dir is None
    assert not (tmp_path / "runs").exists()


def test_logwriter_imports_no_framework() -> None:
    import subprocess
    import sys

    code = ("import sys, logwriter, logwriter.integrations; "
            "print(sorted({'torch', 'lightning', 'accelerate', 'transformers'}"
            " & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
