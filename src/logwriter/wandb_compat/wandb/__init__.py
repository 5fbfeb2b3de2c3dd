"""A ``wandb`` module that logs with runwal, for unchanged ``import wandb`` scripts.

It is found only under ``runwal run -- python train.py``, which puts the
directory above this package first on the child's PYTHONPATH. Its parent
(``logwriter/wandb_compat/``) has no ``__init__.py`` on purpose: it is a data
directory, not a subpackage, so setuptools never installs a top-level
``wandb`` and a real wandb, if installed, is untouched outside ``runwal run``.

What wandb's top-level API does here:

* ``init``: accepts every argument of wandb's ``init`` (an unknown keyword is
  recorded in config under ``_wandb/<arg>``, never a TypeError) and hands
  them to ``logwriter.init``, which takes wandb's arguments too
  (logwriter/session/wandb_args.py says what each does: entity, save_code,
  config_include_keys/config_exclude_keys, reinit, settings, resume="auto"
  applied; anonymous, force, monitor_gym, allow_val_change, ... recorded).
  ``dir`` (or WANDB_DIR) is where wandb keeps its ``wandb/`` folder, so the runs
  directory is ``<dir>/wandb`` (Lightning's WandbLogger passes ``dir="."``:
  its runs land in ./wandb/<id>, where wandb's would); without either, the
  runs directory is RUNWAL_DIR (``runwal run --dir``), else ./runs. Returns
  the Run, usable as a context manager.
* ``mode``: "disabled" -> disabled; "online", "offline", "dryrun" -> runwal's
  default: offline, or hybrid when RUNWAL_SERVER is set (the run syncs while
  it trains, and training never waits on the server); "shared" (or
  ``settings=wandb.Settings(mode="shared", x_primary=..., x_label=...)``)
  also makes it one run for every process of the job (``shared=True``), with
  WANDB_X_PRIMARY and WANDB_X_LABEL read when the settings do not say.
* ``resume``: True/"allow"/"auto" -> allow, "must" -> must, "never"/False -> never.
* Environment, read when the argument is not given, meaning what it means to
  wandb: WANDB_MODE, WANDB_PROJECT, WANDB_ENTITY, WANDB_NAME, WANDB_RUN_ID,
  WANDB_RESUME, WANDB_RUN_GROUP, WANDB_TAGS (comma-separated),
  WANDB_JOB_TYPE, WANDB_NOTES, WANDB_SAVE_CODE, WANDB_DISABLED (true ->
  disabled, as transformers reads it), and WANDB_DIR (see ``dir``).
* ``log``, ``config``, ``summary``, ``save``, ``finish``, ``run``,
  ``define_metric``, ``alert``, ``mark_preempting``: runwal's (``wandb.run``
  is None before init and after finish).
* ``login``, ``require``, ``setup``: no-ops (runwal has no account, no
  service process); ``teardown``: finish. ``Settings``: accepts any keywords
  (init applies the ones session/wandb_args.py names). ``termlog``/``termwarn``/
  ``termerror``: "wandb: ..." lines on stderr. ``__version__`` and the
  ``wandb-<version>.dist-info`` next to this package say wandb 0.31.0, so the
  version checks of Lightning, transformers and accelerate pass; the
  submodules they import are here too (``wandb.wandb_run.Run``,
  ``wandb.sdk.lib.RunDisabled``, ``wandb.sdk.lib.config_util.ConfigError``,
  ``wandb.util.generate_id``, ``wandb.errors``).
* ``watch``/``unwatch``, ``Artifact``, ``log_artifact``, ``use_artifact``,
  ``log_model``: runwal's (logwriter.integrations.torchwatch, logwriter.artifacts); use_artifact
  resolves from the runs directory.
* ``Image``, ``Table``, ``Histogram``, ``Video``, ``Audio``, ``Html`` and
  ``plot`` (a module: ``import wandb.plot``, ``from wandb.plot import line``;
  ``plot_table`` logs a custom Vega chart's table): runwal's (logwriter.media:
  files under files/media/, a ``media`` record per key); ``Object3D`` raises
  NotImplementedError (not supported). ``log()`` with no data commits the step.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import logwriter
from logwriter.media import Audio, Histogram, Html, Image, Object3D, Table, Video  # noqa: F401
from logwriter.session.run import Run
from logwriter.session.wandb_args import wandb_mode

# The wandb release whose API this shim follows; the dist-info next to this package
# says the same, for importlib.metadata (a test pins the two together).
__version__ = "0.31.0"

config: Any = logwriter.config
summary: Any = logwriter.summary

_RESUME = {"allow": "allow", "auto": "allow", "must": "must", "never": "never"}
_TRUE = ("1", "true", "yes", "on")


class Settings:
    """wandb.Settings: keeps whatever keywords it is given (recorded by init)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _mode(mode: str | None) -> str | None:
    if (_env("WANDB_DISABLED") or "").lower() in _TRUE and mode is None:
        return "disabled"
    raw = mode or _env("WANDB_MODE")
    return None if raw is None else wandb_mode(raw)  # None: runwal's own default


def _resume(resume: bool | str | None) -> bool | str | None:
    if resume is None:
        resume = _env("WANDB_RESUME")
    if resume is None or isinstance(resume, bool):
        return resume
    policy = _RESUME.get(str(resume).lower())
    if policy is None:
        raise ValueError(f"runwal (wandb shim): resume={resume!r}: expected True/False or one "
                         f"of {', '.join(_RESUME)}")
    return policy


def _shared(mode: str | None, settings: Any) -> dict[str, Any]:
    """wandb's shared mode from ``mode=`` or WANDB_MODE, with WANDB_X_PRIMARY and
    WANDB_X_LABEL (a ``settings=`` with mode="shared" is read by init() itself)."""
    raw = (mode or _env("WANDB_MODE") or "").lower()
    if raw != "shared":
        return {}
    out: dict[str, Any] = {"shared": True}
    if _env("WANDB_X_PRIMARY") is not None:
        out["primary"] = str(_env("WANDB_X_PRIMARY")).lower() in _TRUE
    if _env("WANDB_X_LABEL") is not None:
        out["label"] = _env("WANDB_X_LABEL")
    return out


def _runs_dir(dir: str | os.PathLike[str] | None) -> str | None:
    """wandb's ``dir`` (else WANDB_DIR) holds a ``wandb/`` folder: the runs go there."""
    where = dir if dir is not None else _env("WANDB_DIR")
    return None if where is None else os.path.join(os.fspath(where), "wandb")


def _tags(tags: Any) -> Any:
    if tags is None and _env("WANDB_TAGS"):
        tags = [t.strip() for t in os.environ["WANDB_TAGS"].split(",") if t.strip()]
    return tags


def init(
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    config: Any = None,
    project: str | None = None,
    entity: str | None = None,
    reinit: Any = None,
    tags: Any = None,
    group: str | None = None,
    name: str | None = None,
    notes: str | None = None,
    config_exclude_keys: Any = None,
    config_include_keys: Any = None,
    anonymous: str | None = None,
    mode: str | None = None,
    allow_val_change: bool | None = None,
    resume: bool | str | None = None,
    force: bool | None = None,
    id: str | None = None,
    monitor_gym: bool | None = None,
    save_code: bool | None = None,
    settings: Any = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    magic: Any = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    **kwargs: Any,
) -> Run:
    """wandb.init with runwal's run behind it; see the module docstring for each argument."""
    if save_code is None and _env("WANDB_SAVE_CODE"):
        save_code = str(_env("WANDB_SAVE_CODE")).lower() in _TRUE
    shared = _shared(mode, settings)
    new = logwriter.init(
        project=project or _env("WANDB_PROJECT"),
        name=name or _env("WANDB_NAME"),
        id=id or _env("WANDB_RUN_ID"),
        config=config,
        tags=_tags(tags),
        notes=notes or _env("WANDB_NOTES"),
        group=group or _env("WANDB_RUN_GROUP"),
        job_type=job_type or _env("WANDB_JOB_TYPE"),
        dir=_runs_dir(dir),
        mode=_mode(mode),
        resume=_resume(resume),
        entity=entity or _env("WANDB_ENTITY"),
        reinit=reinit, anonymous=anonymous, settings=settings, save_code=save_code,
        allow_val_change=allow_val_change, config_exclude_keys=config_exclude_keys,
        config_include_keys=config_include_keys, force=force, monitor_gym=monitor_gym,
        magic=magic, sync_tensorboard=sync_tensorboard, tensorboard=tensorboard,
        resume_from=resume_from, fork_from=fork_from, **shared,
    )
    if kwargs:  # a newer wandb's argument: kept for whoever reads the run
        new.config.update({f"_wandb/{key}": value for key, value in kwargs.items()})
    return new

def log(data: dict[str, Any] | None = None, step: int | None = None,
        commit: bool | None = None, sync: bool | None = None) -> None:
    """wandb.log; ``sync`` (deprecated in wandb) is ignored."""
    logwriter.log(data, step=step, commit=commit)


def save(glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
         policy: str = "live") -> list[str]:
    """wandb.save (its default policy, "live")."""
    return logwriter.save(glob_str, base_path=base_path, policy=policy)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    logwriter.finish(0 if exit_code is None else exit_code)


define_metric = logwriter.define_metric  # wandb's arguments (values/summary.py says what they do)


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """wandb.alert; ``level`` may be wandb's AlertLevel or a str. No rate limit here."""
    level = getattr(level, "value", level) or "INFO"
    logwriter.alert(title, text, level=str(level))


def login(*args: Any, **kwargs: Any) -> bool:
    """No account to log in to: always True."""
    return True


def require(*args: Any, **kwargs: Any) -> None:
    """wandb.require("service") and the like: runwal has no service process to ask for."""


def setup(settings: Any = None) -> None:
    """wandb.setup: nothing to start ahead of init()."""


def teardown(exit_code: int | None = None) -> None:
    """wandb.teardown: finish the current run."""
    logwriter.finish(exit_code)


def mark_preempting() -> None:
    """wandb.mark_preempting: the current run ends as ``preempted`` (no-op without one)."""
    if logwriter.run is not None:
        logwriter.run.mark_preempting()


_said: set[str] = set()


def _term(prefix: str, string: str, repeat: bool) -> None:
    if not repeat and string in _said:
        return
    _said.add(string)
    stream = sys.stderr or sys.__stderr__
    if stream is not None:
        stream.write(f"wandb: {prefix}{string}\n")


def termlog(string: str = "", newline: bool = True, repeat: bool = True,
            prefix: bool = True) -> None:
    """wandb.termlog: a "wandb: ..." line on stderr."""
    _term("", string, repeat)


def termwarn(string: str, repeat: bool = True) -> None:
    _term("WARNING ", string, repeat)


def termerror(string: str, repeat: bool = True) -> None:
    _term("ERROR ", string, repeat)


def watch(models: Any, criterion: Any = None, log: str | None = "gradients",
          log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
    """wandb.watch: histograms and norms of gradients/parameters (integrations/torchwatch.py)."""
    logwriter.watch(models, criterion=criterion, log=log, log_freq=log_freq, idx=idx,
                    log_graph=log_graph)


def unwatch(models: Any = None) -> None:
    """wandb.unwatch: remove watch()'s hooks (of every model without an argument)."""
    logwriter.unwatch(models)


class Artifact(logwriter.Artifact):
    """wandb.Artifact; ``incremental`` and ``use_as`` are accepted and not applied."""

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None, incremental: bool = False,
                 use_as: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, type, description=description, metadata=metadata)


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,
                 aliases: Any = None, tags: Any = None) -> logwriter.Artifact:
    """wandb.log_artifact; ``tags`` are accepted and not applied."""
    return logwriter.log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(artifact_or_name: Any, type: str | None = None, aliases: Any = None,
                 use_as: str | None = None) -> logwriter.Artifact:
    """wandb.use_artifact, resolved offline from the runs directory; ``aliases`` and
    ``use_as`` are accepted and not applied."""
    return logwriter.use_artifact(artifact_or_name, type=type)


def log_model(path: str | os.PathLike[str], name: str | None = None,
              aliases: Any = None) -> logwriter.Artifact:
    """wandb.log_model: the file or directory as an artifact of type "model"."""
    return logwriter.log_model(path, name=name, aliases=aliases)


class Molecule:
    """wandb.Molecule (PDB and friends): not supported by runwal, as Object3D."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("runwal: Molecule is not supported; save the file with "
                                  "run.save() instead")


def restore(name: str, run_path: str | None = None, replace: bool = False,
            root: str | None = None) -> Any:
    """wandb.restore: a saved file of a run, opened for reading. runwal's runs are on
    disk: the current run's files/, or with ``run_path`` (``entity/project/RUN_ID``: its
    last part) that run's files/ in the runs directory. CommError when it is not there
    (wandb's "not found on the server")."""
    current = logwriter.run
    places = [] if current is None or run_path else [Path(current.dir) / name]
    if run_path:
        runs = (Path(current.settings.dir) if current is not None
                else Path(_env("RUNWAL_DIR") or "runs"))
        places.append(runs / run_path.rstrip("/").split("/")[-1] / "files" / name)
    for place in places:
        if place.is_file():
            return open(place, encoding="utf-8")
    raise errors.CommError(f"runwal: wandb.restore({name!r}): no such file in "
                           f"{', '.join(str(p.parent) for p in places) or 'any run'}")


def link_model(path: str | os.PathLike[str], registered_model_name: str,
               name: str | None = None, aliases: Any = None) -> logwriter.Artifact:
    """wandb.link_model: logs the model as log_model does; wandb's model registry has no
    counterpart here (the artifact is found by name with use_artifact)."""
    return logwriter.log_model(path, name=name, aliases=aliases)


from wandb import errors, sdk, util, wandb_run  # noqa: E402, F401 (as wandb, at its top)

# Relative: a process that imported the real wandb first (an importer) must still get these
from . import apis, env, plot  # noqa: E402, F401
from .api import Api  # noqa: E402, F401 (raises: runwal has no server API)
from .errors import Error  # noqa: E402, F401 (wandb.Error, as in wandb)
from .plot import plot_table  # noqa: E402, F401 (wandb.plot_table, as in wandb)


def __getattr__(name: str) -> Any:
    """``wandb.run``: the current run, None before init() and after finish()."""
    if name == "run":
        return logwriter.run
    raise AttributeError(f"module 'wandb' (runwal's shim) has no attribute {name!r}")
