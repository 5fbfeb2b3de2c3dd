"""What a script reads off its Run besides log(): wandb's run attributes, as a mixin.

The Run (run.py) is the object the user holds; this module is the part
of it that answers questions and records the odd fact, so that the hot path
stays readable there:

* identity: ``id``, ``name``, ``project``, ``mode`` and ``resumed`` are set by
  the Run; here ``entity``, ``group``, ``job_type``, ``path``
  ("entity/project/id", wandb's spelling), ``start_time`` (Unix seconds),
  ``offline`` (no server syncs this run: offline mode), ``disabled``,
  ``sweep_id`` (always None: runwal has no sweeps).
* where the run is on disk: ``dir`` is wandb's ``run.dir``, the run's files
  directory (``<run dir>/files``; ``files_dir`` is the same path): every file
  a script writes there is recorded when the run finishes and uploaded by
  ``runwal sync`` at its path under ``dir``, saved or not (files/save.py).
  ``run_dir`` is the run directory itself (run.json, log/, files/, sync/),
  what ``runwal sync``, ``verify`` and ``dump`` take. (wandb's ``path`` is
  "entity/project/id", above, hence the other name.)
* ``name``, ``tags`` and ``notes`` may be set after init, as in wandb. The
  RUN record was written at init, so a later value is recorded in the run's
  config (``_wandb/name``, ``_wandb/tags``, ``_wandb/notes``) for whoever
  reads the run; the MLflow run's name and tags stay those given to init().
* ``url`` / ``get_url()``: the MLflow run's address once a syncer has created
  it (read from the run's sync checkpoint, ``sync/<sink>.json``, whose
  ``uri``/``experiment_id``/``server_run_id`` keys the syncer writes; a plain
  JSON read, so the SDK still never imports the syncer), else the run
  directory as a ``file://`` URL. ``get_project_url()`` likewise for the
  experiment, else the runs directory.
* ``log_code(root)``: save source files (``*.py`` by default) under ``root``
  into the run's files; ``log_code_main()``: the main script, which
  ``init(save_code=True)`` calls.
* ``mark_preempting()``: the run ends as ``preempted``, not ``failed`` or
  ``killed``, however the process ends next (a scheduler's SIGTERM already is).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schema.layout import SYNC_DIR

if TYPE_CHECKING:
    from logwriter.session.settings import Settings
    from logwriter.values.config import Config

# Directories log_code() never descends into: environments, VCS data, caches, run logs.
CODE_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "env", "node_modules",
                            "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                            ".tox", "wandb", "runs", "mlruns", ".ipynb_checkpoints"})
MAX_CODE_FILES = 1000


def _checkpoint(run_dir: str) -> dict[str, Any] | None:
    """The newest sync checkpoint of the run that names a server run, if any."""
    best: dict[str, Any] | None = None
    try:
        names = sorted(Path(run_dir, SYNC_DIR).glob("*.json"))
    except OSError:
        return None
    for path in names:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) and data.get(k)
                for k in ("uri", "experiment_id", "server_run_id")):
            continue
        if best is None or float(data.get("updated") or 0) > float(best.get("updated") or 0):
            best = data
    return best


class StaticConfig(dict[str, Any]):
    """``run.config_static``: a copy of the config, read as ``c.lr`` or ``c["lr"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class RunInfo:
    """wandb's run attributes for logwriter.session.run.Run (see the module docs)."""

    settings: Settings
    id: str
    project: str
    mode: str
    run_dir: str
    dir: str
    config: Config
    _t0: float
    _preempting: bool = False
    _tags: tuple[str, ...] | None = None
    _notes: str | None = None
    _name: str | None = None

    if TYPE_CHECKING:
        def save(self, glob_str: str | os.PathLike[str],
                 base_path: str | os.PathLike[str] | None = None,
                 policy: str = "now") -> list[str]: ...

        def stats(self) -> dict[str, Any]: ...

    # -- identity ------------------------------------------------------------

    @property
    def entity(self) -> str | None:
        return self.settings.entity

    @property
    def group(self) -> str | None:
        return self.settings.group

    @property
    def job_type(self) -> str | None:
        return self.settings.job_type

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.settings.entity, self.project, self.id) if p)

    @property
    def start_time(self) -> float:
        return time.time() - (time.monotonic() - self._t0)

    @property
    def offline(self) -> bool:
        return self.mode == "offline"

    @property
    def disabled(self) -> bool:
        return self.mode == "disabled"

    @property
    def sweep_id(self) -> None:
        return None

    @property
    def files_dir(self) -> str:
        return self.dir

    # -- settable after init ---------------------------------------------------

    @property
    def name(self) -> str:
        return self.settings.name if self._name is None else self._name

    @name.setter
    def name(self, value: str) -> None:
        value = str(value)
        if value != self.name:  # the Run's own first assignment records nothing
            self.config.update({"_wandb/name": value})
            self._name = value

    @property
    def tags(self) -> tuple[str, ...]:
        return self.settings.tags if self._tags is None else self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        tags = tuple(str(t) for t in ([value] if isinstance(value, str) else value or ()))
        self.config.update({"_wandb/tags": list(tags)})
        self._tags = tags

    @property
    def notes(self) -> str | None:
        return self.settings.notes if self._notes is None else self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self.config.update({"_wandb/notes": value})
        self._notes = value

    # -- where the run is seen -------------------------------------------------

    @property
    def url(self) -> str:
        ckpt = _checkpoint(self.run_dir)
        if ckpt is None:
            return Path(self.run_dir).as_uri()
        return (f"{ckpt['uri'].rstrip('/')}/#/experiments/{ckpt['experiment_id']}"
                f"/runs/{ckpt['server_run_id']}")

    def get_url(self) -> str:
        return self.url

    def get_project_url(self) -> str:
        ckpt = _checkpoint(self.run_dir)
        if ckpt is None:
            return Path(os.path.dirname(self.run_dir)).as_uri()
        return f"{ckpt['uri'].rstrip('/')}/#/experiments/{ckpt['experiment_id']}"

    def get_sweep_url(self) -> None:
        return None

    # -- wandb's other run attributes -------------------------------------------

    @property
    def config_static(self) -> StaticConfig:
        """wandb's read-only view of the config: attribute and item access to a copy."""
        return StaticConfig(dict(self.config))

    def display(self, height: int = 420, hidden: bool = False) -> bool:
        """wandb shows the run in Jupyter; runwal has no page to show: False, as wandb
        answers outside Jupyter."""
        return False

    def status(self) -> Any:
        """wandb's sync status, for the run's log: records logged so far
        (``sync_items_total``) and those not yet on disk (``sync_items_pending``); the
        server's side is `runwal ls`'s SYNC column."""
        from types import SimpleNamespace

        stats = self.stats()
        pending = int(stats.get("queued", 0))
        return SimpleNamespace(sync_items_total=int(stats.get("written", 0)) + pending,
                               sync_items_pending=pending, sync_time=None)

    # -- code ----------------------------------------------------------------

    def log_code_main(self) -> list[str]:
        """Save the main script (``__main__.__file__``) into the run's files."""
        main = getattr(sys.modules.get("__main__"), "__file__", None)
        if not main or not os.path.isfile(main):
            return []
        main = os.path.abspath(main)
        return self.save(main, base_path=os.path.dirname(main))

    def log_code(self, root: str | os.PathLike[str] | None = ".", name: str | None = None,
                 include_fn: Callable[..., bool] | None = None,
                 exclude_fn: Callable[..., bool] | None = None, **kwargs: Any) -> list[str]:
        """wandb's log_code: save the source files under ``root`` (``*.py`` unless
        ``include_fn(path)`` says otherwise) into the run's files, paths kept relative
        to ``root``; returns them. Environments, caches and run logs are skipped."""
        base = os.path.abspath(os.fspath(root if root is not None else "."))
        include = include_fn or (lambda path, *_: path.endswith(".py"))
        run_dir = self.run_dir
        saved: list[str] = []
        for top, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in CODE_SKIP_DIRS
                             and not os.path.join(top, d).startswith(run_dir))
            for file in sorted(files):
                path = os.path.join(top, file)
                if not include(path, base) or (exclude_fn is not None and exclude_fn(path, base)):
                    continue
                saved.extend(self.save(path, base_path=base))
                if len(saved) >= MAX_CODE_FILES:
                    return saved
        return saved

    def _label(self, **kwargs: Any) -> None:
        """wandb's telemetry label (transformers' WandbCallback calls it): runwal keeps
        no telemetry."""

    # -- how it ends -------------------------------------------------------------

    def mark_preempting(self) -> None:
        """The run will end as ``preempted`` (wandb: the server expects it back)."""
        self._preempting = True

    def _exit_status(self, status: str | None, exit_code: int) -> str:
        """The EXIT record's status: the one given, else by the exit code."""
        final = status or ("finished" if exit_code == 0 else "failed")
        return "preempted" if self._preempting and final != "finished" else final
