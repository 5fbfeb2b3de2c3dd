"""Run settings: arguments first, then RUNWAL_* environment variables, then defaults.

Kept apart from the Run so that a cluster admin can steer every job with env
vars (RUNWAL_DIR on the shared filesystem, RUNWAL_MODE=disabled for smoke
tests) while a script's explicit arguments still win.

wandb's other init() arguments are part of `InitArgs` too, so a script written
for wandb never gets a TypeError; wandb_args.py says what each does and
translates them.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

MODES = ("offline", "online", "hybrid", "disabled")
FSYNC_POLICIES = ("commit", "finish", "never")
RESUME_POLICIES = ("never", "allow", "must")
DEFAULT_DIR = "./runs"
DEFAULT_FLUSH_INTERVAL = 0.1
DEFAULT_STATS_INTERVAL = 10.0
SERVER_MODES = ("online", "hybrid")
# finish() waits this long for the syncer: online promises "the server has
# everything", hybrid promises never to hold training up.
DEFAULT_SYNC_TIMEOUT = {"online": 60.0, "hybrid": 5.0}
DEFAULT_INIT_TIMEOUT = 10.0  # online: init() waits this long for the server check
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"  # not `string`: import time
_ID_OK = set(_ID_ALPHABET + _ID_ALPHABET[10:].upper() + "-_.")


def new_run_id() -> str:
    """8 random base-36 characters, like wandb's run ids.

    os.urandom rather than ``secrets``: same source, without importing hmac and
    hashlib into every training process. Bytes >= 252 are redrawn so each of
    the 36 characters is equally likely (252 = 7 * 36).
    """
    chars: list[str] = []
    while len(chars) < 8:
        chars.extend(_ID_ALPHABET[b % 36] for b in os.urandom(16) if b < 252)
    return "".join(chars[:8])


class InitArgs(NamedTuple):
    """init()'s parameters, in order, with their defaults: the one list of them.

    ``logwriter.init`` spells the same signature out for IDEs and type checkers
    and hands its arguments over as ``InitArgs(**locals())``; a test pins the two
    together, and pins every field but ``config`` to the Settings field it
    resolves to (``id`` -> ``run_id``).
    """

    project: str | None = None
    name: str | None = None
    id: str | None = None  # wandb's argument name
    config: Any = None
    tags: Any = None
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    dir: str | os.PathLike[str] | None = None
    mode: str | None = None
    resume: bool | str | None = None
    flush_interval: float | None = None
    fsync: str | None = None
    stats_interval: float | None = None
    capture_console: bool = True
    server: str | None = None
    sync_timeout: float | None = None
    shared: bool | None = None  # one run for every process of a job (session/shared.py)
    label: str | None = None
    primary: bool | None = None
    # wandb's other arguments (the module docstring says what each does)
    entity: str | None = None
    reinit: bool | str | None = None
    anonymous: str | None = None
    settings: Any = None
    save_code: bool | None = None
    allow_val_change: bool | None = None
    config_exclude_keys: Any = None
    config_include_keys: Any = None
    force: bool | None = None
    monitor_gym: bool | None = None
    magic: Any = None
    sync_tensorboard: bool | None = None
    tensorboard: bool | None = None
    resume_from: str | None = None
    fork_from: str | None = None


# init() arguments that shape the initial config rather than a setting: the Run takes
# them (config.initial), not Settings.
CONFIG_ARGS = ("config", "config_exclude_keys", "config_include_keys")


# Settings copied into the RUN record. Others (dir, the server URL, tuning knobs)
# are left out: they are not facts about the run, and a server URL may carry
# credentials.
RECORDED_SETTINGS = ("run_id", "project", "name", "mode", "tags", "notes", "group", "job_type",
                     "entity")


class Settings(NamedTuple):
    """Everything init() resolved; ``as_dict()`` goes into the RUN record.

    A NamedTuple, not a dataclass: importing dataclasses (and inspect with it)
    costs a training process ~15 ms of import time for nothing it needs.
    """

    run_id: str
    project: str
    name: str
    dir: str
    mode: str = "offline"
    resume: str = "never"
    server: str | None = None
    tags: tuple[str, ...] = ()
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    fsync: str = "commit"
    stats_interval: float = DEFAULT_STATS_INTERVAL
    capture_console: bool = True
    sync_timeout: float = 0.0
    init_timeout: float = DEFAULT_INIT_TIMEOUT
    entity: str | None = None
    save_code: bool = False
    # Read the TensorBoard event files this process writes into the run (wandb's
    # sync_tensorboard=True): the seam logwriter/tensorboard starts from.
    sync_tensorboard: bool = False
    reinit: str | None = None  # wandb's reinit=, normalised to str ("True" for True)
    recorded: Any = None  # {"_wandb/<arg>": value} of RECORDED_ARGS given; see there
    # A shared run (session/shared.py): this process's writer stream, whether it is the
    # primary, and the launcher facts its RUN record carries ({"label", "rank", ...}).
    shared: bool = False
    label: str | None = None
    primary: bool = True
    stream: Any = None

    @property
    def run_dir(self) -> str:
        """Where this process writes: the run directory, or for a non-primary process
        of a shared run its stream's directory inside it."""
        if self.shared and not self.primary:
            from schema.layout import STREAMS_DIR

            assert self.label is not None
            return os.path.join(self.dir, self.run_id, STREAMS_DIR, self.label)
        return os.path.join(self.dir, self.run_id)

    @property
    def shared_run_dir(self) -> str:
        """The run directory (the same as run_dir unless this is a non-primary stream)."""
        return os.path.join(self.dir, self.run_id)

    def as_dict(self) -> dict[str, Any]:
        out = self._asdict()
        out["tags"] = list(self.tags)
        return out


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"runwal: {name}={raw!r} is not a number") from None


def _seconds(name: str, value: float | None, env: str, default: float) -> float:
    out = _env_float(env, default) if value is None else float(value)
    if not out >= 0:
        raise ValueError(f"runwal: {name} must be >= 0 seconds, got {out!r}")
    return out


def _default_mode(server: str | None) -> str:
    """Offline when no server is configured (the README's Modes). A server named for runwal
    (init(server=) or RUNWAL_SERVER) makes it hybrid: the run syncs while it
    trains and still never waits on or fails for the server. MLFLOW_TRACKING_URI
    alone does not switch modes; clusters often set it for other tools."""
    return "hybrid" if (server or os.environ.get("RUNWAL_SERVER", "").strip()) else "offline"


def _server(mode: str, server: str | None) -> str | None:
    """init(server=), else RUNWAL_SERVER, else MLFLOW_TRACKING_URI; checked for the modes
    that sync, at init and before any file is written."""
    from logwriter.errors import NoServerError
    from schema import uri as tracking_uri
    from schema.errors import BadTrackingUri

    uri = tracking_uri.resolve(server)
    if mode not in SERVER_MODES:
        return uri
    if uri is None:
        raise NoServerError(f"runwal: mode {mode!r} needs a tracking server and none is set")
    try:
        return tracking_uri.check(uri)
    except BadTrackingUri as exc:
        raise NoServerError(
            f"runwal: mode {mode!r} syncs to an MLflow server over HTTP: {exc.args[0]}"
        ) from None


def _resume_policy(resume: bool | str | None) -> str:
    if resume is None or resume is False:
        return "never"
    if resume is True or resume == "auto":  # wandb's "auto": continue it if it exists
        return "allow"
    if resume in RESUME_POLICIES:
        return str(resume)
    raise ValueError(f"runwal: init(resume={resume!r}): expected True/False or one of "
                     f"{', '.join(RESUME_POLICIES)}, auto")


def resolve(args: InitArgs | None = None) -> Settings:
    """Build Settings from init()'s arguments and the environment; ValueError on nonsense
    (NoServerError, a ValueError, for online/hybrid without a usable server). ``config``
    is not a setting: the Run takes it from ``args`` itself."""
    from logwriter.session.wandb_args import recorded_args, with_wandb_settings

    args = with_wandb_settings(InitArgs() if args is None else args)
    mode = args.mode or os.environ.get("RUNWAL_MODE") or _default_mode(args.server)
    mode = mode.strip().lower()
    if mode not in MODES:
        raise ValueError(f"runwal: mode {mode!r} is not one of {', '.join(MODES)}")
    from logwriter.session.shared import resolve_shared, shared_default

    shared = bool(args.shared) if args.shared is not None else shared_default()
    label, primary, stream = None, True, None
    if shared:
        run_id, label, primary, stream = resolve_shared(args.id, args.label, args.primary)
    elif args.label is not None or args.primary is not None:
        raise ValueError("runwal: label= and primary= are for shared runs: pass shared=True")
    else:
        run_id = args.id if args.id is not None else new_run_id()
    if not isinstance(run_id, str) or not run_id or not set(run_id) <= _ID_OK:
        raise ValueError(
            f"runwal: run id {run_id!r} must be a non-empty string of letters, digits, '-_.'"
        )
    if run_id in (".", ".."):
        raise ValueError(f"runwal: run id {run_id!r} is not allowed")
    fsync = args.fsync or "commit"
    if fsync not in FSYNC_POLICIES:
        raise ValueError(f"runwal: fsync={fsync!r} is not one of {', '.join(FSYNC_POLICIES)}")
    flush_interval = args.flush_interval
    flush = DEFAULT_FLUSH_INTERVAL if flush_interval is None else float(flush_interval)
    if not flush > 0:
        raise ValueError(f"runwal: flush_interval must be > 0 seconds, got {flush_interval!r}")
    stats = (
        _env_float("RUNWAL_STATS_INTERVAL", DEFAULT_STATS_INTERVAL)
        if args.stats_interval is None
        else float(args.stats_interval)
    )
    tags = list([args.tags] if isinstance(args.tags, str) else args.tags or ())
    if args.entity:
        tags.append(f"entity:{args.entity}")
    server = _server(mode, args.server)
    sync_wait = _seconds("sync_timeout", args.sync_timeout, "RUNWAL_SYNC_TIMEOUT",
                         DEFAULT_SYNC_TIMEOUT.get(mode, 0.0))
    init_wait = _seconds("RUNWAL_INIT_TIMEOUT", None, "RUNWAL_INIT_TIMEOUT",
                         DEFAULT_INIT_TIMEOUT)
    return Settings(
        run_id=run_id,
        project=args.project or "uncategorized",
        name=args.name or run_id,
        dir=(os.fspath(args.dir) if args.dir is not None
             else os.environ.get("RUNWAL_DIR") or DEFAULT_DIR),
        mode=mode,
        # every process of a shared run may find it made by another: "allow" at least
        resume=_shared_policy(_resume_policy(args.resume)) if shared else
        _resume_policy(args.resume),
        server=server,
        tags=tuple(str(t) for t in tags),
        notes=args.notes,
        group=args.group,
        job_type=args.job_type,
        flush_interval=flush,
        fsync=fsync,
        stats_interval=max(0.0, stats),
        capture_console=bool(args.capture_console),
        sync_timeout=sync_wait,
        init_timeout=init_wait,
        entity=None if args.entity is None else str(args.entity),
        save_code=bool(args.save_code),
        sync_tensorboard=bool(args.sync_tensorboard or args.tensorboard),
        reinit=None if args.reinit is None else str(args.reinit),
        recorded=recorded_args(args),
        shared=shared,
        label=label,
        primary=primary,
        stream=stream,
    )


def _shared_policy(policy: str) -> str:
    return "must" if policy == "must" else "allow"

