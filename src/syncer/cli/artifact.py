"""``runwal artifact get NAME[:VERSION|:ALIAS]``: an artifact version from the tracking server.

Reads what `runwal sync` uploaded (`syncer.sinks.mlflow.artifacts`), looked up
by `syncer.sinks.mlflow.artifactlookup` the way use_artifact() resolves
offline: the newest run of the project that logged the version or alias wins.
It is also the process the SDK's use_artifact() runs, in online and hybrid
modes, when the runs directory has no match (the training process never makes
an HTTP request and never imports the syncer): with ``--json`` stdout carries
exactly one JSON object line, found / not_found / error, whose shape
`schema.artifact_protocol` defines.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from schema import artifact_protocol as protocol
from syncer.cli import render
from syncer.cli.common import user_errors
from syncer.errors import BadOption, NotOnServer, RunwalError, ServerUnavailable
from syncer.sinks.mlflow.artifactlookup import Found, download, find, split_spec
from syncer.sinks.mlflow.connect import server_uri
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.retry import RetryPolicy


@click.group("artifact")
def artifact() -> None:
    """Artifacts on the tracking server: what `runwal sync` uploaded."""


@artifact.command("get")
@click.argument("asked", metavar="NAME[:VERSION|:ALIAS]")
@click.option("--project", metavar="NAME",
              help="The MLflow experiment to look in: the project the producing run logged to.")
@click.option("--run", "server_run", metavar="MLFLOW_RUN_ID",
              help="Look only in this MLflow run (then --project is not needed).")
@click.option("--to", metavar="URI",
              help="MLflow tracking URI (default: $RUNWAL_SERVER, then $MLFLOW_TRACKING_URI).")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Also download every file entry to DIR/<entry path>, each sha256-checked "
                   "(references are listed, not fetched).")
@click.option("--path", "paths", multiple=True, metavar="ENTRY",
              help="With --into: download only this entry (repeatable).")
@click.option("--connect-timeout", default=5.0, show_default=True, type=float,
              help="Seconds to wait for the server to accept a connection.")
@click.option("--deadline", default=30.0, show_default=True, type=float,
              help="Seconds a failing request is retried before the command gives up.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object line on stdout, whatever the outcome "
                   "(schema/artifact_protocol.py).")
@user_errors
def get(asked: str, project: str | None, server_run: str | None, to: str | None,
        into: Path | None, paths: tuple[str, ...], connect_timeout: float, deadline: float,
        as_json: bool) -> None:
    """Look up version VERSION (v3) or alias ALIAS (default: latest) of artifact NAME
    among the runs of experiment --project on the MLflow server, as use_artifact()
    does in online and hybrid modes: the newest run that logged it wins.

    Prints the version, the run that logged it and its entries; --into DIR
    also downloads its files.

    \b
    Examples:
      runwal artifact get data:best --project mnist
      runwal artifact get model:v3 --project mnist --into ./model

    \b
    Exit status: 0 found (and downloaded);
                 1 not found, or the server could not be asked or refused, or a
                   download failed (missing on the server, wrong sha256);
                 2 usage error (bad NAME, no --project, no server configured).
    """
    name, spec = split_spec(asked)
    try:
        if not name or not spec:
            raise BadOption(f"{asked!r} is not NAME[:VERSION|:ALIAS]",
                            hint="e.g. `runwal artifact get data:latest --project P`")
        if project is None and server_run is None:
            raise BadOption("which experiment? pass --project (or --run MLFLOW_RUN_ID)")
        if paths and into is None:
            raise BadOption("--path picks entries to download: it needs --into DIR")
        uri = server_uri(to)
        with build_client(connect_timeout=connect_timeout, max_connections=2) as http:
            rest = MlflowRest(uri, http, retry=RetryPolicy(deadline=deadline))
            found = find(rest, project, name, spec, server_run=server_run)
            files = download(rest, found, into, list(paths) or None) if into else []
    except ServerUnavailable as exc:  # not `runwal sync`'s hint: nothing resumes here
        exc.hint = "check that the server is up and reachable"
        if not as_json:
            raise
        click.echo(protocol.error_line(exc.message, exc.hint))
        sys.exit(exc.exit_code)
    except NotOnServer as exc:
        if not as_json:
            raise
        click.echo(protocol.not_found_line(name, spec, exc.message))
        sys.exit(exc.exit_code)
    except RunwalError as exc:
        if not as_json:
            raise
        click.echo(protocol.error_line(exc.message, exc.hint))
        sys.exit(exc.exit_code)
    where = found.where(uri)
    if as_json:
        click.echo(protocol.found_line(found.name, found.version, found.manifest,
                                       source_run=found.source_run,
                                       server_run=found.server_run, where=where,
                                       into=str(into.resolve()) if into else "", files=files))
        return
    click.echo(_text(found, where))
    if into is not None:
        size = sum(int(e.get("size") or 0) for e in _entries(found)
                   if e.get("path") in set(files))
        click.echo(f"downloaded {render.plural(len(files), 'file')} ({render.size(size)}) "
                   f"into {into}")


def _entries(found: Found) -> list[dict[str, Any]]:
    return [e for e in found.manifest.get("entries") or () if isinstance(e, dict)]


def _text(found: Found, where: str) -> str:
    m = found.manifest
    aliases = ", ".join(str(a) for a in m.get("aliases") or ()) or "-"
    digest = str(m.get("digest") or "")[:12]
    lines = [f"{found.name}:v{found.version}  type {m.get('type')}  digest {digest}  "
             f"aliases {aliases}",
             f"  from run {found.source_run or '?'} (MLflow run {found.server_run})",
             f"  at {where}"]
    if m.get("description"):
        lines.append(f"  description: {render.short(m['description'], 100)}")
    rows = []
    for e in _entries(found):
        if "ref" in e:
            rows.append((e.get("path"), "ref", e.get("ref")))
        else:
            rows.append((e.get("path"), render.size(int(e.get("size") or 0)),
                         f"sha256 {str(e.get('sha256'))[:12]}"))
    if rows:
        lines.append(render.table(rows, ("ENTRY", "SIZE", ""), right={1}, indent="  "))
    return "\n".join(lines)
