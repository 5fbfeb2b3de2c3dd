"""``RunwalTracker``: an accelerate tracker that writes a runwal run.

Usage::

    from accelerate import Accelerator
    from logwriter.integrations.accelerate import RunwalTracker
    accelerator = Accelerator(log_with=RunwalTracker(project="mnist"))
    accelerator.init_trackers("mnist", config={"lr": 1e-3})
    accelerator.log({"loss": loss}, step=step)
    accelerator.end_training()

accelerate passes ``init_trackers``' project name only to its built-in
trackers, so a RunwalTracker takes ``project`` (and every other
``logwriter.init`` argument) at construction. The run is created in
``start()``, which ``init_trackers`` calls, and only on the main process
(``main_process_only``, honoured by accelerate's ``on_main_process``): one
process writes a run, as runwal requires. ``finish()`` (from
``end_training``) finishes it.
"""

from __future__ import annotations

from typing import Any

try:
    from accelerate.tracking import GeneralTracker, on_main_process
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("runwal: logwriter.integrations.accelerate needs accelerate; "
                      "pip install 'runwal[accelerate]'") from exc

import logwriter
from logwriter.session.run import Run


class RunwalTracker(GeneralTracker):
    """Log an Accelerator's config and metrics to runwal.

    Args:
        **init_kwargs: ``logwriter.init`` arguments (project, name, id, dir,
            config, mode, tags, group, ...), used when the run starts.
    """

    name = "runwal"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, **init_kwargs: Any) -> None:
        super().__init__()
        self._init = init_kwargs
        self._run: Run | None = None

    @on_main_process
    def start(self) -> None:
        if self._run is None:
            self._run = logwriter.init(**self._init)

    @property
    def tracker(self) -> Run | None:
        """The logwriter Run (None before start() and on other processes)."""
        return self._run

    def _started(self) -> Run:
        if self._run is None:
            self.start()
        assert self._run is not None
        return self._run

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self._started().config.update(values)

    @on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self._started().log(values, step=step, **kwargs)

    @on_main_process
    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()


__all__ = ["RunwalTracker"]
