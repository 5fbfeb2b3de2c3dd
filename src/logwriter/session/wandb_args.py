"""wandb's init() arguments beyond runwal's own: what each does here.

They are fields of settings.InitArgs (the one list), so a script written for
wandb (``import logwriter as wandb``, or ``runwal run``'s shim) never gets a
TypeError; what each does:

* applied: ``entity`` (recorded in the RUN record, and a tag ``entity:<x>``
  so the MLflow run shows it), ``save_code`` (the main script is saved into
  the run's files at init), ``resume="auto"`` (= "allow"), ``reinit``
  ("return_previous" returns the current run; anything else finishes it
  first, wandb's default since 0.19), ``config_include_keys`` /
  ``config_exclude_keys`` (filter the init config), ``tensorboard`` (wandb's
  old name for ``sync_tensorboard``), and ``settings`` (a wandb.Settings
  object or a dict): its mode, project, entity, run_name, run_id, run_group,
  run_job_type, run_notes, run_tags, root_dir, resume, save_code and
  sync_tensorboard fill the arguments not given, ``console="off"`` turns
  console capture off, ``x_disable_stats`` the system monitor;
  ``mode="shared"`` makes a shared run (``shared=True``), with ``x_primary``
  and ``x_label`` as ``primary`` and ``label`` (``x_update_finish_state``
  is recorded: only the primary's finish ends a shared run here anyway).
* ``sync_tensorboard``: resolved into ``Settings.sync_tensorboard``, the one
  seam the TensorBoard reader (logwriter/tensorboard) starts from.
* recorded only (`RECORDED_ARGS`, in the run's config under ``_wandb/<arg>``
  when given): anonymous, force, magic, monitor_gym, allow_val_change
  (runwal's config takes changed values anyway), resume_from, fork_from, and
  settings (its fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logwriter.session.settings import InitArgs

# wandb arguments that change nothing in a local run log: recorded when given, in the
# run's config under "_wandb/<arg>" (Settings.recorded), for whoever reads the run.
RECORDED_ARGS = ("anonymous", "force", "magic", "monitor_gym", "allow_val_change",
                 "resume_from", "fork_from", "settings")
REINIT_RETURN_PREVIOUS = "return_previous"
# wandb.Settings fields that fill an init() argument not given: field -> argument.
_WANDB_SETTINGS = {"mode": "mode", "project": "project", "entity": "entity",
                   "run_name": "name", "run_id": "id", "run_group": "group",
                   "run_job_type": "job_type", "run_notes": "notes", "run_tags": "tags",
                   "root_dir": "dir", "resume": "resume", "save_code": "save_code",
                   "sync_tensorboard": "sync_tensorboard"}
# wandb's modes -> runwal's: None is runwal's default (hybrid when RUNWAL_SERVER names a
# server, else offline), since wandb's "online" means "sync to the server", which runwal
# does without ever holding training up.
WANDB_MODES = {"online": None, "offline": None, "dryrun": None, "run": None, "shared": None,
               "disabled": "disabled"}


def wandb_mode(mode: Any) -> str | None:
    """A wandb mode as runwal's (see WANDB_MODES); ValueError for an unknown one."""
    raw = str(mode).strip().lower()
    if raw not in WANDB_MODES:
        raise ValueError(f"runwal: wandb mode {mode!r} is not one of {', '.join(WANDB_MODES)}")
    return WANDB_MODES[raw]


def settings_fields(settings: Any) -> dict[str, Any]:
    """The fields of a wandb.Settings (or a dict, or any object) that were given."""
    if settings is None:
        return {}
    if isinstance(settings, dict):
        return dict(settings)
    for dump in ("to_dict", "model_dump"):  # wandb's real Settings is a pydantic model
        method = getattr(settings, dump, None)
        if callable(method):
            try:
                return {k: v for k, v in dict(method()).items() if v is not None}
            except Exception:  # a foreign object: fall back to its attributes
                break
    return {k: v for k, v in getattr(settings, "__dict__", {}).items() if not k.startswith("_")}


def with_wandb_settings(args: InitArgs) -> InitArgs:
    """``args`` with the init() arguments not given filled from ``settings=``."""
    fields = settings_fields(args.settings)
    if not fields:
        return args
    fill = {arg: fields[key] for key, arg in _WANDB_SETTINGS.items()
            if fields.get(key) is not None and getattr(args, arg) is None}
    if "mode" in fill:
        fill["mode"] = wandb_mode(fill["mode"])
    if str(fields.get("mode", "")).strip().lower() == "shared" and args.shared is None:
        fill["shared"] = True  # wandb's "track all processes to a single run"
    for key, arg in (("x_primary", "primary"), ("x_label", "label")):
        if fields.get(key) is not None and getattr(args, arg) is None:
            fill[arg] = bool(fields[key]) if arg == "primary" else str(fields[key])
    if str(fields.get("console", "")).lower() == "off":
        fill["capture_console"] = False
    if (fields.get("x_disable_stats") or fields.get("_disable_stats")) and (
            args.stats_interval is None):
        fill["stats_interval"] = 0.0
    return args._replace(**fill)


def recorded_args(args: InitArgs) -> dict[str, Any]:
    """``{"_wandb/<arg>": value}`` for the RECORDED_ARGS given, values made plain."""
    out: dict[str, Any] = {}
    for name in RECORDED_ARGS:
        value = settings_fields(args.settings) if name == "settings" else getattr(args, name)
        if value is not None and value != {}:
            out[f"_wandb/{name}"] = value  # run.config makes it plain (config.coerce)
    return out

