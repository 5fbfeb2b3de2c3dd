"""``runwal run -- python train.py ...``: run an unchanged ``import wandb`` script.

The child gets runwal's ``wandb`` shim first on its PYTHONPATH (the module
docstring of ``logwriter/wandb_compat/wandb/__init__.py`` says what it
does). The shim's directory is found with ``importlib.util.find_spec``,
which locates logwriter without importing it: syncer never imports logwriter.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import click

from syncer.cli.common import user_errors
from syncer.errors import BadCommand


def shim_dir() -> str:
    """``logwriter/wandb_compat``: the directory that holds the ``wandb`` shim package."""
    spec = importlib.util.find_spec("logwriter")
    if spec is None or not spec.submodule_search_locations:
        raise BadCommand("the logwriter package is not installed here",
                            hint="install runwal in the environment that runs the script")
    return os.path.join(next(iter(spec.submodule_search_locations)), "wandb_compat")


_PYTHON = re.compile(r"python[0-9.]*")


def check_interpreter(command: tuple[str, ...], exe: str, env: dict[str, str]) -> None:
    """When COMMAND is a Python other than runwal's own (``python`` of the system while
    runwal sits in a venv that is not activated), make sure it can import runwal;
    else one line saying which interpreter to use, instead of the child's
    ``ModuleNotFoundError`` traceback. Other commands (a shell script) are run as
    they are."""
    if not _PYTHON.fullmatch(os.path.basename(exe)):
        return
    if os.path.abspath(exe) == os.path.abspath(sys.executable):
        return  # (not realpath: a venv's python links to the base one, without its packages)
    probe = subprocess.run([exe, "-c", "import logwriter"], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60, check=False)
    if probe.returncode == 0:
        return
    rest = " ".join(command[1:])
    named = exe if command[0] == exe else f"{command[0]} ({exe})"
    raise BadCommand(
        f"{named} is a Python without runwal (runwal is installed for {sys.executable})",
        hint=f"run the script with that interpreter: runwal run -- {sys.executable} {rest}; "
             "or activate the environment runwal is installed in")


def _terminal_sends_sigint() -> bool:
    """True when we are the terminal's foreground group: Ctrl-C then reaches the child
    itself, and forwarding it too would interrupt its cleanup a second time."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@click.option("--dir", "runs_dir", type=click.Path(path_type=Path), default=None,
              help="Runs directory for the child (sets RUNWAL_DIR; a script's "
                   "wandb.init(dir=) or WANDB_DIR still wins, as in wandb).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@user_errors
def run(runs_dir: Path | None, command: tuple[str, ...]) -> None:
    """Run COMMAND with runwal's `wandb` module: `import wandb` scripts log to a run dir.

    \b
        runwal run --dir ./runs -- python train.py --lr 0.1

    WANDB_MODE, WANDB_PROJECT, WANDB_NAME, WANDB_RUN_ID, WANDB_RESUME,
    WANDB_RUN_GROUP, WANDB_TAGS and WANDB_DIR mean what they mean to wandb.
    SIGTERM (and a SIGINT not sent by the terminal, which reaches the child
    itself) is forwarded to the child.

    \b
    A Python that cannot import runwal (the system's `python` while runwal
    is in a venv that is not activated) is refused with one line naming the
    interpreter to use.

    \b
    Exit status: the child's (128+N when signal N killed it); 2 no command
    given, it is not found, or it is a Python without runwal.
    """
    if not command:
        raise BadCommand("no command given")
    exe = shutil.which(command[0])
    if exe is None:
        raise BadCommand(f"command not found: {command[0]}",
                            hint="check the name, or pass its full path")
    env = dict(os.environ)
    shim = shim_dir()
    env["PYTHONPATH"] = shim + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if runs_dir is not None:
        env["RUNWAL_DIR"] = os.fspath(runs_dir)
    check_interpreter(command, exe, env)
    try:
        child = subprocess.Popen([exe, *command[1:]], env=env)
    except OSError as exc:
        raise BadCommand(f"cannot start {command[0]}: {exc.strerror or exc}") from None

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_sends_sigint():
            return
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise SystemExit(128 - code if code < 0 else code)
