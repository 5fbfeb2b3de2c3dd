"""The Run's calls besides log(), config and summary, as a mixin.

define_metric(), alert() and save() each check their arguments on the
caller's thread and queue one record through ``Run.record`` (save() through the
file saver, files/save.py); log_artifact(), log_model(), use_artifact(),
watch() and unwatch() are doors to artifacts/runops.py and integrations/torchwatch.py,
imported on first use so that a run which never calls them never imports
them. None of them reads or moves the step or the pending row: that state,
and the rules for a disabled, forked or finished run that these calls obey
through ``Run.ignores_calls``, are the Run's own (run.py).
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any, cast

from logwriter.errors import SaveWarning
from logwriter.values.summary import Summary, metric_def
from logwriter.values.text import clean_text
from schema.records import RecordType

if TYPE_CHECKING:
    from logwriter.session.backend import Backend
    from logwriter.session.run import Run

ALERT_LEVELS = ("INFO", "WARN", "ERROR")


class RunCalls:
    """define_metric, save, alert, artifacts and watch for logwriter.session.run.Run."""

    summary: Summary
    _backend: Backend

    if TYPE_CHECKING:
        def record(self, rtype: int, body: Any) -> None: ...
        def ignores_calls(self) -> bool: ...

    def define_metric(self, name: str, step_metric: str | None = None,
                      step_sync: bool | None = None, hidden: bool | None = None,
                      summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> None:
        """Declare how a metric (or a glob like "val/*") is summarised and plotted, with
        wandb's arguments (values/summary.py says what each mode does)."""
        body, modes = metric_def(name, step_metric, step_sync, hidden, summary, goal,
                                 overwrite)
        self.summary.define(name, modes)
        self.record(int(RecordType.METRIC_DEF), body)

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] |
             None = None, policy: str = "now") -> list[str]:
        """Snapshot files into the run's files/ dir; returns their paths there. A file
        that cannot be snapshot (disk full, gone) is left out with a SaveWarning."""
        if self.ignores_calls():
            return []
        saver = self._backend.saver
        assert saver is not None
        saved, problem = saver.save(glob_str, base_path, policy)
        if problem is not None:
            warnings.warn(problem, SaveWarning, stacklevel=2)
        return saved

    def alert(self, title: str, text: str, level: str = "INFO") -> None:
        if not isinstance(title, str) or not isinstance(text, str):
            raise TypeError("runwal: alert(): title and text must be str")
        level = str(level).upper()
        if level not in ALERT_LEVELS:
            raise ValueError(f"runwal: alert(level={level!r}): expected one of {ALERT_LEVELS}")
        self.record(int(RecordType.ALERT), {"title": clean_text(title), "text": clean_text(text),
                                          "level": level})

    # -- artifacts and watch: bodies in artifacts/runops.py, integrations/torchwatch.py --

    def log_artifact(self, artifact_or_path: Any, name: str | None = None,
                     type: str | None = None, aliases: Any = None) -> Any:
        """Version an Artifact (or a file/dir path) and record it; returns the Artifact."""
        from logwriter.artifacts.runops import log_artifact
        return log_artifact(cast("Run", self), artifact_or_path, name, type, aliases)

    def log_model(self, path: str | os.PathLike[str], name: str | None = None,
                  aliases: Any = None) -> Any:
        from logwriter.artifacts.runops import log_model
        return log_model(cast("Run", self), path, name, aliases)

    def use_artifact(self, artifact_or_name: Any, type: str | None = None) -> Any:
        """Resolve "name:latest" / "name:v3" / "name:alias" offline, record the lineage."""
        from logwriter.artifacts.runops import use_artifact
        return use_artifact(cast("Run", self), artifact_or_name, type)

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients",
              log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
        from logwriter.integrations.torchwatch import watch
        watch(cast("Run", self), models, criterion, log, log_freq, idx, log_graph)

    def unwatch(self, models: Any = None) -> None:
        from logwriter.integrations.torchwatch import unwatch
        for model in models if isinstance(models, (list, tuple)) else [models]:
            unwatch(cast("Run", self), model)
