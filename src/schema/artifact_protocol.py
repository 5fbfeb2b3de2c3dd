"""What use_artifact() and its lookup process (``runwal artifact get``) say to each other.

When the runs directory has no match, an online or hybrid run's use_artifact()
asks the tracking server for what the syncer uploaded there. Talking to MLflow
is the syncer's work (the training process never makes an HTTP request and
logwriter never imports the syncer), so the SDK runs, as a child process
(`command` builds it)::

    python -P -m syncer.cli artifact get NAME:SPEC --project PROJECT --json
           [--deadline S] [--to URI]                       # resolve
           [--run MLFLOW_RUN_ID --into DIR [--path P]...]  # and download

``--to`` carries the server unless its URI holds credentials, which then
travel in the child's environment (``RUNWAL_SERVER``), never on a command line
that ``ps`` shows. ``--run`` pins the MLflow run the lookup answered (so a
download gets the very version use_artifact() returned); ``--into`` writes
each file entry (or only those ``--path`` names) as ``DIR/<entry path>``,
its sha256 checked before it is renamed into place.

With ``--json`` the child's stdout carries exactly one line, a JSON object
(`found_line`, `not_found_line`, `error_line`; read by `parse_answer`):

============  ================================================================
``status``    the other keys
============  ================================================================
found         ``name``, ``version`` (int), ``manifest`` (the version's
              MANIFEST.json as the syncer wrote it: ``type``, ``digest``,
              ``aliases``, ``description``, ``metadata``, ``entries``),
              ``source_run`` (the runwal run id, or null), ``server_run``
              (the MLflow run id), ``where`` (the version's directory on the
              server, without credentials), ``into`` and ``files`` (with
              ``--into``: the directory, and the entry paths written there)
not_found     ``name``, ``spec``, ``message`` (what the server has instead)
error         ``message``, ``hint``: the server could not be asked or refused,
              keeps its artifacts outside its proxy, or a download failed
============  ================================================================

Exit status: 0 found, 1 not found or an error, 2 a usage mistake (click's own
line on stderr, then no answer line). A child that prints no answer line
(killed, a bug, a bad option) is an error for the SDK, told with the last
line of its stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schema.jsonline import dump_line, parse_tagged, text_field
from schema.uri import public_uri

FOUND = "found"
NOT_FOUND = "not_found"
ERROR = "error"
STATUSES = frozenset({FOUND, NOT_FOUND, ERROR})

MODULE = "syncer.cli"  # what the SDK runs with ``python -m``
COMMAND = ("artifact", "get")
SERVER_ENV = "RUNWAL_SERVER"  # where a URI with credentials travels instead of --to


@dataclass(frozen=True)
class Answer:
    """The one line, parsed; the keys its ``status`` has are set (see module doc)."""

    status: str
    name: str = ""
    version: int = -1
    manifest: dict[str, Any] = field(default_factory=dict)
    source_run: str | None = None
    server_run: str = ""
    where: str = ""
    into: str = ""
    files: list[str] = field(default_factory=list)
    spec: str = ""
    message: str = ""  # not_found: what there is instead; error: what went wrong
    hint: str = ""


def command(asked: str, project: str, server: str, *, deadline: float | None = None,
            server_run: str | None = None, into: str | None = None,
            paths: Iterable[str] = (), python: str = sys.executable,
            env: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The child's command line and environment (module doc)."""
    cmd = [python]
    if sys.version_info >= (3, 11):
        cmd.append("-P")  # a ./syncer directory in the training's cwd must not shadow ours
    cmd += ["-m", MODULE, *COMMAND, asked, "--project", project, "--json"]
    if deadline is not None:
        cmd += ["--deadline", f"{deadline:g}"]
    if server_run is not None:
        cmd += ["--run", server_run]
    if into is not None:
        cmd += ["--into", into]
        for path in paths:
            cmd += ["--path", path]
    out_env = dict(os.environ if env is None else env)
    if public_uri(server) == server.rstrip("/"):
        cmd += ["--to", server]
    else:
        out_env[SERVER_ENV] = server
    return cmd, out_env


def _line(body: dict[str, Any]) -> str:
    return dump_line(body, default=str)


def found_line(name: str, version: int, manifest: dict[str, Any], *,
               source_run: str | None, server_run: str, where: str, into: str = "",
               files: Iterable[str] = ()) -> str:
    return _line({"status": FOUND, "name": name, "version": version, "manifest": manifest,
                  "source_run": source_run, "server_run": server_run, "where": where,
                  "into": into, "files": list(files)})


def not_found_line(name: str, spec: str, message: str) -> str:
    return _line({"status": NOT_FOUND, "name": name, "spec": spec,
                  "message": " ".join(message.split())})


def error_line(message: str, hint: str = "") -> str:
    return _line({"status": ERROR, "message": " ".join(message.split()),
                  "hint": " ".join(hint.split())})


def parse_line(line: str) -> Answer | None:
    """The answer a line holds, else None (not JSON, not an object, an unknown
    ``status``, a key of the wrong type)."""
    return parse_tagged(line, "status", STATUSES, _answer)


def _answer(status: str, data: dict[str, Any]) -> Answer | None:
    if status == ERROR:
        return Answer(ERROR, message=text_field(data, "message"), hint=text_field(data, "hint"))
    if status == NOT_FOUND:
        return Answer(NOT_FOUND, name=text_field(data, "name"), spec=text_field(data, "spec"),
                      message=text_field(data, "message"))
    version, manifest, files = data.get("version"), data.get("manifest"), data.get("files")
    source = data.get("source_run")
    if type(version) is not int or not isinstance(manifest, dict):
        return None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    if source is not None and not isinstance(source, str):
        return None
    return Answer(FOUND, name=text_field(data, "name"), version=version, manifest=manifest,
                  source_run=source, server_run=text_field(data, "server_run"),
                  where=text_field(data, "where"), into=text_field(data, "into"), files=files)


def parse_answer(stdout: str) -> Answer | None:
    """The answer in a child's whole stdout: its last line that is one, else None."""
    for line in reversed(stdout.splitlines()):
        answer = parse_line(line)
        if answer is not None:
            return answer
    return None
