"""A ``wandb`` module that logs with runwal, for unchanged ``import wandb`` scripts.

It is found only under ``runwal run -- python train.py``, which puts the
directory above this package first on the child's PYTHONPATH. Its parent
(``logwriter/wandb_compat/``) has no ``__init__.py`` on purpose: it is a data
directory, not a subpackage, so setuptools never installs a top-level
``wandb`` and a real wandb, if installed, is untouched outside ``runwal run``.

What wandb's top-level API does here:

* ``init``: accepts every argument of wandb's ``init`` (an unknown keyword is
  recorded, never a TypeError). Applied: project, name, id, config, tags,
  notes, group, job_type, dir (the runs directory), mode, resume,
  ``entity`` (a tag ``entity:<x>``), ``config_exclude_keys`` /
  ``config_include_keys`` (filter a dict config), ``save_code`` (the main
  script is saved into the run's files). ``reinit``: runwal always finishes
  a current run before starting the next, which is what wandb does with
  ``reinit=True`` and by default since 0.19. Recorded in config under
  ``_wandb/<arg>``: anonymous, force, monitor_gym, allow_val_change, settings
  (their kwargs), and unknown keywords. ``allow_val_change`` has nothing to
  allow: runwal's config takes changed values.
* ``mode``: "disabled" -> disabled; "online", "offline", "dryrun" -> offline,
  unless RUNWAL_SERVER is set (then runwal's default, hybrid: the run syncs
  while it trains, and training never waits on the server).
* ``resume``: True/"allow"/"auto" -> allow, "must" -> must, "never"/False -> never.
* Environment, read when the argument is not given, meaning what it means to
  wandb: WANDB_MODE, WANDB_PROJECT, WANDB_NAME, WANDB_RUN_ID, WANDB_RESUME,
  WANDB_RUN_GROUP, WANDB_TAGS (comma-separated), WANDB_JOB_TYPE, WANDB_NOTES,
  and WANDB_DIR (the runs directory; else RUNWAL_DIR, which ``runwal run --dir``
  sets).
* ``log``, ``config``, ``summary``, ``save``, ``finish``, ``run``,
  ``define_metric``, ``alert``: runwal's (``wandb.run`` is None before init).
* ``login``: a no-op returning True (runwal has no account). ``Settings``:
  accepts any keywords.
* Not yet (issue 9): ``watch``/``unwatch`` are no-ops with one warning;
  ``Artifact``, ``log_artifact``, ``use_artifact`` raise NotImplementedError
  naming issue 9 rather than pretend to log something.
* ``Image``, ``Table``, ``Histogram``, ``Video``, ``Audio``, ``Html`` and
  ``plot``: runwal's (logwriter.media: files under files/media/, a ``media``
  record per key); ``Object3D`` raises NotImplementedError (not supported).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import logwriter
from logwriter.errors import RunwalWarning
from logwriter.media import Audio, Histogram, Html, Image, Object3D, Table, Video, plot  # noqa: F401
from logwriter.summary import SUMMARY_MODES

__version__ = "0.0.0+runwal"  # not a wandb version: nothing should gate on it

config: Any = logwriter.config
summary: Any = logwriter.summary

_MODES = {"online": "offline", "offline": "offline", "dryrun": "offline",
          "disabled": "disabled"}
_RESUME = {"allow": "allow", "auto": "allow", "must": "must", "never": "never"}
# Accepted and recorded in config under "_wandb/<arg>" when given: they change
# nothing in a local run log, but a reader of the run may want to know.
_RECORDED = ("anonymous", "force", "monitor_gym", "allow_val_change")


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
    raw = (mode or _env("WANDB_MODE") or "").strip().lower()
    if not raw:
        return None  # runwal's own default (RUNWAL_MODE, RUNWAL_SERVER)
    if raw not in _MODES:
        raise ValueError(f"runwal (wandb shim): mode {raw!r} is not one of "
                         f"{', '.join(_MODES)}")
    if _MODES[raw] == "offline" and _env("RUNWAL_SERVER"):
        return None
    return _MODES[raw]


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


def _tags(tags: Any, entity: str | None) -> list[str] | None:
    if tags is None and _env("WANDB_TAGS"):
        tags = [t.strip() for t in os.environ["WANDB_TAGS"].split(",") if t.strip()]
    out = [tags] if isinstance(tags, str) else list(tags or ())
    if entity:
        out.append(f"entity:{entity}")
    return out or None


def _config(config: Any, include: Any, exclude: Any) -> Any:
    if config is not None and not isinstance(config, dict) and hasattr(config, "__dict__"):
        config = vars(config)  # argparse.Namespace, as wandb takes it
    if isinstance(config, dict) and (include or exclude):
        config = {k: v for k, v in config.items()
                  if (not include or k in include) and (not exclude or k not in exclude)}
    return config


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _save_main_script(new: logwriter.Run) -> None:
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and os.path.isfile(main):
        new.save(os.path.abspath(main), base_path=os.path.dirname(os.path.abspath(main)))


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
    **kwargs: Any,
) -> logwriter.Run:
    """wandb.init with runwal's run behind it; see the module docstring for each argument."""
    del reinit  # runwal always finishes the current run first (wandb >= 0.19)
    recorded: dict[str, Any] = {}
    given = {"anonymous": anonymous, "force": force, "monitor_gym": monitor_gym,
             "allow_val_change": allow_val_change}
    for key in _RECORDED:
        if given[key] is not None:
            recorded[f"_wandb/{key}"] = _jsonable(given[key])
    if settings is not None:
        raw = settings if isinstance(settings, dict) else getattr(settings, "__dict__", {})
        recorded["_wandb/settings"] = _jsonable(dict(raw))
    for key, value in kwargs.items():
        recorded[f"_wandb/{key}"] = _jsonable(value)
    new = logwriter.init(
        project=project or _env("WANDB_PROJECT"),
        name=name or _env("WANDB_NAME"),
        id=id or _env("WANDB_RUN_ID"),
        config=_config(config, config_include_keys, config_exclude_keys),
        tags=_tags(tags, entity),
        notes=notes or _env("WANDB_NOTES"),
        group=group or _env("WANDB_RUN_GROUP"),
        job_type=job_type or _env("WANDB_JOB_TYPE"),
        dir=dir if dir is not None else _env("WANDB_DIR"),
        mode=_mode(mode),
        resume=_resume(resume),
    )
    if recorded:
        new.config.update(recorded)
    if save_code:
        _save_main_script(new)
    return new


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None,
        sync: bool | None = None) -> None:
    """wandb.log; ``sync`` (deprecated in wandb) is ignored."""
    logwriter.log(data, step=step, commit=commit)


def save(glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
         policy: str = "live") -> list[str]:
    """wandb.save (its default policy, "live")."""
    return logwriter.save(glob_str, base_path=base_path, policy=policy)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    logwriter.finish(0 if exit_code is None else exit_code)


def define_metric(name: str, step_metric: str | None = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None,
                  goal: str | None = None, overwrite: bool | None = None) -> None:
    """wandb.define_metric. step_sync/goal/overwrite are accepted and not applied yet;
    a summary list like "min,max" keeps its first mode runwal knows."""
    modes = [m.strip() for m in (summary or "").split(",") if m.strip() in SUMMARY_MODES]
    logwriter.define_metric(name, step_metric=step_metric, summary=modes[0] if modes else None,
                            hidden=bool(hidden))


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """wandb.alert; ``level`` may be wandb's AlertLevel or a str. No rate limit here."""
    level = getattr(level, "value", level) or "INFO"
    logwriter.alert(title, text, level=str(level))


def login(*args: Any, **kwargs: Any) -> bool:
    """No account to log in to: always True."""
    return True


_watch_warned = False


def watch(*args: Any, **kwargs: Any) -> None:
    """Not yet: gradients/parameters as histograms are issue 9. One warning, then quiet."""
    global _watch_warned
    if not _watch_warned:
        _watch_warned = True
        warnings.warn("runwal: wandb.watch() records nothing yet (issue 9, rich values)",
                      RunwalWarning, stacklevel=2)


def unwatch(*args: Any, **kwargs: Any) -> None:
    """The counterpart of watch(): nothing to undo."""


class _NotYet:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            f"runwal: wandb.{type(self).__name__} is not supported yet (issue 9, rich values); "
            "log numbers, or remove this call")


class Artifact(_NotYet):
    pass


def log_artifact(*args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("runwal: wandb.log_artifact is not supported yet (issue 9); "
                              "wandb.save(path) keeps the file with the run")


def use_artifact(*args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("runwal: wandb.use_artifact is not supported yet (issue 9)")


def __getattr__(name: str) -> Any:
    """``wandb.run``: the current run, None before init() and after finish()."""
    if name == "run":
        return logwriter.run
    raise AttributeError(f"module 'wandb' (runwal's shim) has no attribute {name!r}")
