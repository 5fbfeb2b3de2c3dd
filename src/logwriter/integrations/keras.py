"""``RunwalCallback``: a Keras 3 ``fit()``'s metrics, config and model into a run.

Usage::

    from logwriter.integrations.keras import RunwalCallback
    model.fit(x, y, validation_split=0.2,
              callbacks=[RunwalCallback(project="mnist", save_model=True)])

It records what wandb's ``WandbMetricsLogger`` records, under the same names,
so a run reads the same in either tool:

* config, at ``on_train_begin``: the optimizer's ``get_config()`` under
  ``optimizer/`` (``optimizer/name``, ``optimizer/beta_1``, ...), its
  ``learning_rate`` also at the top level, and ``num_parameters``
  (``model.count_params()``). Values that are not plain (a learning-rate
  schedule's objects) are stored as their str.
* history: each epoch's ``logs`` as ``epoch/<name>`` (``epoch/loss``,
  ``epoch/val_loss``: Keras' own ``val_`` names are kept, as wandb keeps
  them), with ``epoch/epoch`` and ``epoch/learning_rate``. With
  ``log_freq="batch"`` (or an int N: every N batches) also ``batch/<name>``
  and ``batch/batch_step``. Only numbers are logged.
* steps: with epoch logging the step is the epoch index (``initial_epoch``
  counts). With batch logging the step is the global batch index since the
  callback's first ``fit()``, and an epoch's row joins its last batch's step,
  because runwal's steps only go forward. A row whose step the run has
  already passed (a second ``fit()``, or a script that logged steps of its
  own) goes at the run's next step instead, its ``epoch/epoch`` or
  ``batch/batch_step`` saying where it belongs, rather than being dropped
  with a StepWarning.
* files: with ``save_model=True``, ``model.keras`` (``model.save()``, the
  native Keras 3 format) at the end of each ``fit()``, written to a temp
  directory and saved into the run (``policy="now"``).

The run: the ``run=`` given, else the current ``logwriter.run`` (a script
that called ``logwriter.init()`` itself), else one this callback starts at
``on_train_begin`` with the ``init()`` arguments given to it and finishes at
``on_train_end``. A later ``fit()`` with the same callback reopens that run
(``resume="must"``), as a second ``fit()`` continues the same model. Runs the
callback did not start are never finished by it. Keras calls no callback when
``fit()`` raises, so a run this callback started is then left to logwriter's
exit handling.

keras is imported by this module only; ``import logwriter`` never imports it
(``pip install runwal[keras]``, with a Keras backend installed).
"""

from __future__ import annotations

import contextlib
import numbers
import os
import tempfile
from collections.abc import Mapping
from typing import Any, Literal

try:
    import keras
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("runwal: logwriter.integrations.keras needs Keras 3; "
                      "pip install 'runwal[keras]'") from exc

import logwriter
from logwriter.session.run import Run

_PLAIN = (bool, int, float, str, type(None))
_MAX_DEPTH = 16  # deeper config values are stored as their str


def _number(value: Any) -> float | int | None:
    """A metric as a Python number (a 0-d/1-element array or tensor too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return value if isinstance(value, int) else float(value)
    try:
        array = keras.ops.convert_to_numpy(value)
    except Exception:  # a str, a dict: not a metric
        return None
    if getattr(array, "size", 0) != 1 or array.dtype.kind not in "iuf":
        return None
    item = array.reshape(()).item()
    return item if isinstance(item, int) else float(item)


def _plain(value: Any, depth: int = 0) -> Any:
    """A config value as runwal stores it: plain values, lists and str-keyed dicts
    of them as they are, anything else as its str."""
    if isinstance(value, _PLAIN):
        return value
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {str(k): _plain(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_plain(v, depth + 1) for v in value]
    return str(value)


class RunwalCallback(keras.callbacks.Callback):
    """A Keras callback that logs ``fit()`` to runwal; see the module docs."""

    def __init__(self, *, run: Run | None = None,
                 log_freq: Literal["epoch", "batch"] | int = "epoch",
                 save_model: bool = False, **init_kwargs: Any) -> None:
        """``init_kwargs`` are ``logwriter.init()``'s (project, name, id, dir, mode,
        config, tags, ...), used only when the callback starts the run itself."""
        super().__init__()
        if log_freq == "batch":
            every = 1
        elif log_freq == "epoch":
            every = 0
        elif type(log_freq) is int and log_freq > 0:
            every = log_freq
        else:
            raise ValueError(f"runwal: RunwalCallback(log_freq={log_freq!r}): expected "
                             "'epoch', 'batch' or a positive int")
        self.run = run
        self.save_model = save_model
        self._every = every  # log every N batches; 0: epochs only
        self._init_kwargs = init_kwargs
        self._owned = False  # this callback started self.run and finishes it
        self._global_batch = -1  # index of the last batch seen, across fit() calls

    # -- the run ---------------------------------------------------------------

    def _start(self) -> Run:
        run = self.run
        if run is None or run.finished:
            if run is not None and self._owned:
                # A second fit() continues the same model: the same run, reopened.
                kwargs = {k: v for k, v in self._init_kwargs.items()
                          if k not in ("id", "resume", "config")}
                kwargs.update(id=run.id, dir=run.settings.dir, resume="must")
                kwargs.setdefault("project", run.project)
                self.run = logwriter.init(**kwargs)
            elif run is None and logwriter.run is not None:
                self.run, self._owned = logwriter.run, False
            elif run is None:
                self.run, self._owned = logwriter.init(**self._init_kwargs), True
            else:
                raise RuntimeError("runwal: RunwalCallback(run=...) was given a finished "
                                   "run; pass a live one or none")
        assert self.run is not None
        return self.run

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            opt_config = _plain(optimizer.get_config())
            config["optimizer"] = opt_config
            lr = _number(getattr(optimizer, "learning_rate", None))
            config["learning_rate"] = lr if lr is not None else opt_config.get("learning_rate")
        with contextlib.suppress(ValueError):  # a subclassed model not built yet
            config["num_parameters"] = int(self.model.count_params())
        return config

    def _learning_rate(self) -> float | int | None:
        optimizer = getattr(self.model, "optimizer", None)
        return _number(getattr(optimizer, "learning_rate", None))

    def _log(self, row: dict[str, Any], step: int, axis: str) -> None:
        run = self.run
        if run is None or run.finished:
            return
        if step < run.step:
            row[axis] = step  # wandb's x-axis metric says where the row belongs
            run.log(row)
        else:
            run.log(row, step=step)

    @staticmethod
    def _metrics(logs: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
        row = {}
        for key, value in (logs or {}).items():
            number = _number(value)
            if number is not None:
                row[f"{prefix}/{key}"] = number
        return row

    # -- Keras events ----------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._start().config.update(self._config())

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._global_batch += 1
        if not self._every or (batch + 1) % self._every:
            return
        row = self._metrics(logs, "batch")
        row["batch/batch_step"] = self._global_batch
        lr = self._learning_rate()
        if lr is not None:
            row["batch/learning_rate"] = lr
        self._log(row, self._global_batch, "batch/batch_step")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        row = self._metrics(logs, "epoch")
        row["epoch/epoch"] = epoch
        lr = self._learning_rate()
        if lr is not None:
            row["epoch/learning_rate"] = lr
        if self._every:
            self._log(row, max(self._global_batch, 0), "epoch/epoch")
        else:
            self._log(row, epoch, "epoch/epoch")

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        run = self.run
        if run is None or run.finished:
            return
        if self.save_model:
            with tempfile.TemporaryDirectory(prefix="runwal-keras-") as tmp:
                path = os.path.join(tmp, "model.keras")
                self.model.save(path)
                run.save(path, base_path=tmp, policy="now")
        if self._owned:
            run.finish()


__all__ = ["RunwalCallback"]
