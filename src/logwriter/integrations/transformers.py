"""``RunwalCallback``: Hugging Face ``Trainer`` metrics, config and checkpoints into a run.

Usage::

    from logwriter.integrations.transformers import RunwalCallback
    trainer = Trainer(model, TrainingArguments(..., report_to="none"),
                      callbacks=[RunwalCallback(project="bert", log_checkpoints=True)])

It records what transformers' own WandbCallback records, under the same names,
so a run reads the same in either tool:

* config: ``args.to_dict()`` flat (``learning_rate``, ``per_device_train_batch_size``,
  ...), the model's ``config.to_dict()`` under ``model/`` (``model/hidden_size``)
  and ``model/num_parameters``. Values are made JSON-able here (int keys of
  ``id2label`` become str, enums and dtypes their str), as wandb stores them.
* history at ``state.global_step``, keys rewritten the way
  ``transformers.integrations.integration_utils.rewrite_logs`` does:
  ``eval_loss`` -> ``eval/loss``, ``test_*`` -> ``test/*``, anything else
  ``train/*`` (``loss`` -> ``train/loss``, ``epoch`` -> ``train/epoch``).
  Only numbers are logged, as the TensorBoard and MLflow callbacks do. When
  the run is already past ``global_step`` (``evaluate()`` after ``train()``
  reopened it, or the script logged steps of its own), the row goes at the
  run's next step with ``train/global_step`` in it, wandb's x-axis metric,
  rather than being dropped with a StepWarning.
* summary: the one-off end-of-training numbers (``train_runtime``,
  ``train_samples_per_second``, ``train_steps_per_second``, ``train_loss``,
  ``total_flos``) under their own names, as WandbCallback puts them; and the
  metrics of ``trainer.predict()`` under ``test/...``.
* files: with ``log_checkpoints=True``, every file of each
  ``checkpoint-<step>`` directory on ``on_save``, as ``files/checkpoint-<step>/...``
  (hard-linked when on the same filesystem, so a multi-GB checkpoint costs a
  link, and it survives ``save_total_limit`` deleting the original).

Only the main process (``state.is_world_process_zero``) logs: under DDP the
other ranks' callbacks do nothing, so one run holds the job, as in wandb.

Shared runs: ``RunwalCallback(shared=True)`` (or ``RUNWAL_SHARED=1`` in the
environment, when ``shared`` is not given) makes every process of the job a
writer of one run (``logwriter.init(shared=True)``, session/shared.py): every
process starts it in ``on_train_begin`` and finishes it in ``on_train_end``,
world process zero as the primary (the run's own ``log/``), each other process
as its stream ``streams/rank_<process_index>/``. Config, metrics, summary and
checkpoints are still logged by world process zero alone, as the Trainer's
other callbacks do (the Trainer gathers its metrics there); the other
processes contribute their own system metrics and console.
``evaluate()``/``predict()`` outside ``train()`` stay on world process zero.

Every process must open the same run id. It is, in this order: ``id=``; the
launcher's job id (``torchrun --rdzv-id``'s TORCHELASTIC_RUN_ID, Slurm's job
id); else one that world process zero draws and sends to the others with
``torch.distributed.broadcast_object_list`` in ``on_train_begin``, which every
process reaches together with the process group up (the Trainer sets it up
before training). An environment variable set before the job starts cannot
carry it: torchrun starts each process itself.

The run: the ``run=`` given, else the current ``logwriter.run`` (a script
that called ``logwriter.init()`` itself), else one this callback starts at
``on_train_begin`` with the ``init()`` arguments given to it (``name``
defaults to ``args.run_name``; in a hyper-parameter search each trial is a run
named by its trial, grouped under the run name) and finishes at ``on_train_end``. A
``trainer.evaluate()`` or ``predict()`` after training then reopens that run
(``resume="must"``) for its metrics and finishes it again, so no run is left
open between calls; one before any training gets a run of its own, likewise
finished when it returns. Runs the callback did not start are never finished by it.

transformers is imported by this module only; ``import logwriter`` never
imports it (``pip install runwal[integrations]``).
"""

from __future__ import annotations

import enum
import glob
import numbers
import os
from collections.abc import Mapping
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("runwal: logwriter.integrations.transformers needs transformers; "
                      "pip install 'runwal[transformers]'") from exc

import logwriter
from logwriter.integrations.distributed import (
    broadcast_from_rank_zero,
    process_group_size,
    wants_shared,
)
from logwriter.session.run import Run
from logwriter.session.settings import new_run_id
from logwriter.session.shared import job_run_id

# Logged once at the end of train(); WandbCallback's list, kept in summary.
SUMMARY_KEYS = frozenset({
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "train_loss",
    "total_flos",
})
_PREFIXES = (("eval_", "eval/"), ("test_", "test/"))
_MAX_DEPTH = 16  # deeper config values are stored as their str


def rewrite_logs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """Trainer's flat names to wandb's panels: the rule of transformers' rewrite_logs."""
    out: dict[str, Any] = {}
    for key, value in logs.items():
        for prefix, panel in _PREFIXES:
            if key.startswith(prefix):
                out[panel + key[len(prefix):]] = value
                break
        else:
            out["train/" + key] = value
    return out


def jsonable(value: Any, depth: int = 0) -> Any:
    """A config value as wandb would store it: str keys, lists, and str for the rest.

    TrainingArguments and model configs carry enums, dtypes, Paths, sets and
    int-keyed dicts (``id2label``); stored as-is some would be refused by
    ``run.config``, and one refused value drops the whole update.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value, depth)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, depth + 1) for v in items]
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class RunwalCallback(TrainerCallback):
    """A ``TrainerCallback`` that logs a Trainer's run to runwal; see the module docs."""

    def __init__(self, *, run: Run | None = None, log_checkpoints: bool = False,
                 **init_kwargs: Any) -> None:
        """``init_kwargs`` are ``logwriter.init()``'s (project, name, id, dir, mode,
        tags, group, ...), used only when the callback starts the run itself."""
        self.run = run
        self.log_checkpoints = log_checkpoints
        self._init_kwargs = init_kwargs
        self._owned = False  # this callback started self.run and finishes it
        self._reopened = False  # opened outside train() for evaluate()/predict()

    def _shared(self) -> bool:
        return wants_shared(self._init_kwargs.get("shared"))

    def _stream(self, args: Any, state: Any, kwargs: dict[str, Any], agree: bool) -> None:
        """A shared run's id, label and primary into init()'s ``kwargs``. ``agree``: every
        process is here together (on_train_begin) and may take part in a broadcast."""
        index = int(getattr(args, "process_index", 0) or 0)
        kwargs["shared"] = True
        if kwargs.get("label") is None:
            kwargs["label"] = f"rank_{index}"
        if kwargs.get("primary") is None:
            kwargs["primary"] = bool(state.is_world_process_zero)
        if kwargs.get("id") is None:
            kwargs["id"] = job_run_id()
        if kwargs.get("id") is None:
            if agree and process_group_size() > 1:
                kwargs["id"] = broadcast_from_rank_zero(
                    new_run_id() if state.is_world_process_zero else None)
            else:
                kwargs["id"] = new_run_id()  # world process zero alone (evaluate() first)

    # -- the run ---------------------------------------------------------------

    def _start(self, args: Any, state: Any, model: Any, agree: bool = False) -> None:
        if self.run is None or self.run.finished:
            if logwriter.run is not None:
                self.run, self._owned = logwriter.run, False
            else:
                kwargs = self._names(args, state)
                if self._shared():
                    self._stream(args, state, kwargs, agree)
                self.run, self._owned = logwriter.init(**kwargs), True
        if state.is_world_process_zero:
            self.run.config.update(self._config(args, model))

    def _names(self, args: Any, state: Any) -> dict[str, Any]:
        """init()'s arguments; as WandbCallback names runs: a hyper-parameter search's
        trial by its trial name, grouped under the run name, else ``args.run_name``."""
        kwargs = dict(self._init_kwargs)
        trial = getattr(state, "trial_name", None)
        run_name = getattr(args, "run_name", None)
        if trial is not None:
            kwargs["name"] = kwargs.get("name") or trial
            kwargs["group"] = kwargs.get("group") or run_name or args.output_dir
        elif run_name:
            kwargs["name"] = kwargs.get("name") or run_name
        return kwargs

    @staticmethod
    def _config(args: Any, model: Any) -> dict[str, Any]:
        config = dict(jsonable(args.to_dict()))
        model_config = getattr(model, "config", None)
        if model_config is not None:
            as_dict = model_config if isinstance(model_config, Mapping) else model_config.to_dict()
            model_part = dict(jsonable(as_dict))
            num_parameters = getattr(model, "num_parameters", None)
            if callable(num_parameters):
                model_part["num_parameters"] = int(num_parameters())
            config["model"] = model_part
        return config

    def _live_run(self, args: Any, state: Any, model: Any) -> Run | None:
        """The run to log into now. evaluate()/predict() outside train() get one that
        their own event (on_evaluate, on_predict) finishes: a fresh one before any
        train(), the owned one of the last train() reopened after it."""
        run = self.run
        if run is None:
            self._start(args, state, model)
            self._reopened = self._owned
            return self.run
        if not run.finished:
            return run
        if not self._owned:
            return None  # the user's run, finished by the user: nothing to log into
        kwargs = {k: v for k, v in self._init_kwargs.items() if k not in ("id", "resume")}
        kwargs.update(id=run.id, dir=run.settings.dir, resume="must")
        kwargs.setdefault("project", run.project)
        if self._shared():
            self._stream(args, state, kwargs, agree=False)
        self.run = logwriter.init(**kwargs)
        self._reopened = True
        return self.run

    def _finish_owned(self) -> None:
        if self._owned and self.run is not None:
            self.run.finish()
        self._reopened = False

    # -- Trainer events ------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       **kwargs: Any) -> None:
        if state.is_world_process_zero or self._shared():
            self._start(args, state, model, agree=True)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        run = self._live_run(args, state, kwargs.get("model"))
        if run is None:
            return
        metrics = {}
        for key, value in logs.items():
            if not _number(value):
                continue
            if key in SUMMARY_KEYS:
                run.summary[key] = value
            else:
                metrics[key] = value
        if not metrics:
            return
        row = rewrite_logs(metrics)
        step: int | None = state.global_step
        if step is not None and step < run.step:
            # A reopened run (evaluate() after train()) or a script's own steps ahead of
            # the Trainer's: the next step, with the Trainer's as a metric, as wandb's does.
            row["train/global_step"] = step
            step = None
        run.log(row, step=step)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._reopened and state.is_world_process_zero:
            self._finish_owned()  # evaluate() after train(): its on_log came first

    def on_predict(self, args: Any, state: Any, control: Any, metrics: Any = None,
                   **kwargs: Any) -> None:
        if not state.is_world_process_zero or not metrics:
            return
        run = self._live_run(args, state, kwargs.get("model"))
        if run is None:
            return
        for key, value in rewrite_logs(metrics).items():
            if _number(value) or isinstance(value, str):
                run.summary[key] = value
        if self._reopened:
            self._finish_owned()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.log_checkpoints or not state.is_world_process_zero:
            return
        run = self._live_run(args, state, kwargs.get("model"))
        if run is None:
            return
        checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if os.path.isdir(checkpoint):
            run.save(os.path.join(glob.escape(checkpoint), "**"), base_path=args.output_dir,
                     policy="now")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero or self._shared():
            self._finish_owned()


__all__ = ["SUMMARY_KEYS", "RunwalCallback", "jsonable", "rewrite_logs"]
