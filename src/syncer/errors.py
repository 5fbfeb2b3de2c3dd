"""Errors of the ``runwal`` inspection commands (ls, show, dump, verify, export).

Tree::

    CliError                    base; a user mistake: one line + ``hint``, exit status 2
    ├── NoSuchDir               DIR does not exist or is not a directory
    ├── NotARun                 RUN is not a run directory (no run.json, no log/)
    ├── BadOption               an option value the command cannot use (unknown --type name)
    └── ExportError             the export destination cannot be written

Errors of the sync engine live in `syncer.sync_errors`, errors of the on-disk
format in `schema.errors`; `syncer.cli.common.user_errors` turns all three
families into the same ``runwal: error: <message> (hint: ...)`` line, so a
user never sees a traceback for something they can fix.

Damage *inside* a run (a corrupt frame) is not an error here either: ``show``
and ``dump`` report it and go on, ``verify`` turns it into exit status 1.
"""

from __future__ import annotations

from schema.errors import HintError


class CliError(HintError):
    """Base class: a mistake the user can fix; ``hint`` says how."""

    exit_code: int = 2


class NoSuchDir(CliError):
    hint = "pass the directory your runs are written to (RUNWAL_DIR, default ./runs)"


class NotARun(CliError):
    hint = "pass one run directory such as ./runs/<run_id>; `runwal ls ./runs` lists them"


class BadOption(CliError):
    hint = "see `runwal COMMAND --help` for the accepted values"


class ExportError(CliError):
    hint = "pass a directory you can write to (it is created if missing)"
