"""Helpers every ``runwal`` subcommand shares: error lines, exit codes, ``--json``.

Exit statuses, the same for every command:

    0  success (``verify``: clean, or only a torn tail)
    1  the command ran but found a problem (``verify``: damage; ``sync``: a run failed)
    2  a user mistake: missing path, bad option, not a run directory, no server

An error prints exactly one line on stderr, ``runwal: error: <message>
(hint: ...)``, never a traceback, and exits with the status its class carries
(``exit_code``: `syncer.errors.UsageError` 2, `syncer.errors.SyncError` 1;
the format's `schema.errors.SchemaError` 2). Decorate a command with
`user_errors` (below ``@click.command``) to get that; a bug still shows its
traceback, because hiding it would help nobody.

JSON output is strict JSON (RFC 8259), which has no NaN or Infinity: `jsonable`
writes non-finite floats as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (the spelling MLflow's REST API accepts), bytes as
``"base64:<...>"`` and non-string map keys as strings.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from schema.errors import SchemaError
from schema.layout import STREAMS_DIR, RunDir, child_runs, foreign_run_hint, is_run_dir
from syncer.errors import EXIT_USAGE, NoSuchDir, NotARun, RunwalError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0  # the other statuses live with the error classes (syncer.errors)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout instead of text."
)


def error_line(message: str) -> str:
    return f"runwal: error: {message}"


def fail(exc: BaseException, code: int = EXIT_USAGE) -> None:
    """Print ``exc`` as the one error line and exit with ``code``."""
    click.echo(error_line(str(exc) or type(exc).__name__), err=True)
    raise SystemExit(code)


def user_errors(func: F) -> F:
    """Turn the project's error families into one stderr line and an exit status.

    Also ends quietly when stdout is a closed pipe (``runwal dump RUN | head``),
    the way ``cat`` does, instead of a BrokenPipeError traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RunwalError as exc:
            fail(exc, exc.exit_code)
        except SchemaError as exc:
            fail(exc, EXIT_USAGE)
        except PermissionError as exc:
            fail(UsageError(f"permission denied: {exc.filename}", hint="check the file's owner"))
        except BrokenPipeError:
            # Point stdout at /dev/null so the interpreter's final flush is silent.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(EXIT_OK) from None
        return None

    return wrapper  # type: ignore[return-value]


def by_id(path: str | os.PathLike[str]) -> Path:
    """``path``, or, when nothing is there and it is a bare name (a run id), the run of
    that id in the runs directory ($RUNWAL_DIR, else ./runs) if there is one."""
    p = Path(path)
    if p.exists() or len(p.parts) != 1:
        return p
    for runs in (os.environ.get("RUNWAL_DIR"), "runs"):
        if runs and (Path(runs) / p).is_dir():
            return Path(runs) / p
    return p


def open_run(path: str | os.PathLike[str]) -> RunDir:
    """The run directory at ``path`` (or a run id, `by_id`), or NotARun with a hint."""
    p = by_id(path)
    if not p.exists():
        raise NotARun("no such directory", path=str(p))
    if not p.is_dir():
        raise NotARun("not a directory", path=str(p))
    try:
        return RunDir.open(p)
    except SchemaError as exc:
        children = [c for c in child_runs(p) if RunDir(c).parent_run() is None]
        hint: str | None
        if p.name == STREAMS_DIR and is_run_dir(p.parent):  # its streams are not runs
            hint = f"it holds the writer streams of the run {p.parent}; pass that run"
        elif children:
            hint = (f"{p} holds {len(children)} run{'' if len(children) == 1 else 's'}; "
                    f"pass one of them, e.g. {children[0]}")
        else:
            hint = foreign_run_hint(p)
        raise NotARun("not a runwal run directory (no run.json, no log/)", path=str(p),
                      hint=hint) from exc


def require_dir(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise NoSuchDir("no such directory", path=str(p))
    if not p.is_dir():
        raise NoSuchDir("not a directory", path=str(p))
    return p


def jsonable(obj: Any) -> Any:
    """``obj`` with everything strict JSON cannot hold spelled as strings (see module doc)."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        if math.isnan(obj):
            return "NaN"
        return "Infinity" if obj > 0 else "-Infinity"
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(obj)).decode("ascii")
    return str(obj)


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """Strict JSON text of ``obj`` (never NaN/Infinity literals)."""
    return json.dumps(jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)


def echo_json(obj: Any) -> None:
    click.echo(dumps(obj, indent=2))
