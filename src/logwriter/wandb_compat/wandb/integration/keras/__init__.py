"""``wandb.integration.keras`` (and the older ``wandb.keras``) on runwal's Keras 3
callback (logwriter/integrations/keras.py), so scripts written for wandb's Keras
examples run unchanged under ``runwal run`` (real wandb 0.31 needs TensorFlow for
these; runwal's callback runs on any Keras 3 backend):

* ``WandbMetricsLogger(log_freq=)``: runwal's callback on the current run, the same
  ``epoch/*`` and ``batch/*`` names as wandb's;
* ``WandbModelCheckpoint(filepath, ...)``: Keras' ``ModelCheckpoint``, each file it
  writes also saved into the run (wandb logs it as an artifact);
* ``WandbCallback(save_model=True, ...)``: wandb's legacy callback as the metrics
  logger plus the model at the end; its other arguments (data logging, gradients)
  are accepted and not applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

import logwriter
from logwriter.integrations.keras import RunwalCallback


class WandbMetricsLogger(RunwalCallback):
    def __init__(self, log_freq: Any = "epoch", initial_global_step: int = 0,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(log_freq=log_freq)


class WandbCallback(RunwalCallback):
    def __init__(self, monitor: str = "val_loss", verbose: int = 0, mode: str = "auto",
                 save_weights_only: bool = False, log_weights: bool = False,
                 log_gradients: bool = False, save_model: bool = True,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(log_freq="epoch", save_model=save_model)


class WandbModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras' ModelCheckpoint; every file it writes is saved into the current run too."""

    def __init__(self, filepath: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(filepath, *args, **kwargs)
        self._stamps: dict[Path, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self._save_new(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        if self.save_freq != "epoch":
            self._save_new(self._current_epoch, logs)

    def _save_new(self, epoch: int, logs: dict[str, Any] | None) -> None:
        run = logwriter.run
        if run is None:
            return
        path = Path(self._get_file_path(epoch, None, logs))
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return  # not written this time (save_best_only and no improvement)
        if self._stamps.get(path) != stamp:
            self._stamps[path] = stamp
            run.save(str(path), base_path=str(path.parent), policy="now")


__all__ = ["WandbCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]
