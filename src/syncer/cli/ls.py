"""``runwal ls DIR``: one row per run under DIR (or DIR itself when it is a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from schema.errors import SchemaError
from schema.layout import child_runs, is_run_dir
from syncer.cli.common import echo_json, json_option, require_dir, user_errors
from syncer.cli.text import ls_table
from syncer.inspect.runview import RunView, disk_usage, sync_checkpoints, sync_state
from syncer.inspect.spelling import spell, terminal_text


def find_runs(directory: Path) -> list[Path]:
    """DIR itself when it is a run, else its child directories that are runs."""
    if is_run_dir(directory):
        return [directory]
    return child_runs(directory)


def ls_entry(path: Path) -> dict[str, Any]:
    """One ``ls`` row as JSON; a run that cannot be read gets status "unreadable"."""
    try:
        view = RunView.load(path, sample_width=1)
    except SchemaError as exc:
        return {"run_id": path.name, "path": str(path), "status": "unreadable", "error": str(exc),
                "created": None}
    ckpts = sync_checkpoints(path)
    if view.identity_error:
        click.echo(terminal_text(f"runwal: note: {view.identity_error}"), err=True)
    return {
        "run_id": view.run_id,
        "path": str(path),
        "project": view.identity.get("project") or view.run.get("project"),
        "name": view.identity.get("name") or view.run.get("name"),
        "created": view.created,
        "status": view.status,
        "exit_code": view.exit_code,
        "runtime": view.runtime,
        "steps": view.history_count,
        "last_step": view.last_step,
        "records": view.records,
        "last_seq": view.last_seq,
        "size": disk_usage(path),
        "health": "damaged" if view.damage else ("torn" if view.torn else "ok"),
        "damage": len(view.damage),
        "sync": sync_state(view, ckpts),
        "sync_seq": ckpts,
    }


@click.command("ls")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@json_option
@user_errors
def ls(directory: Path, as_json: bool) -> None:
    """List the runs under DIR (a directory of runs, or one run), oldest first.

    \b
    Columns: run id, project, name, created, status ("unfinished" when the
    run has no exit record: still running, or it crashed), steps (history
    records), records, size on disk, health (ok / torn tail / damaged;
    `runwal verify` tells more) and sync ("synced" when a sync checkpoint
    covers the last record, "partial", "-" never synced).

    \b
    Exit status: 0 ok, also when DIR holds no runs; 2 DIR missing.
    """
    require_dir(directory)
    rows = [ls_entry(p) for p in find_runs(directory)]
    rows.sort(key=lambda r: (r["created"] is None, r["created"] or 0.0, r["run_id"]))
    if as_json:
        echo_json(spell(rows))
        return
    if not rows:
        click.echo(terminal_text(f"no runs under {directory}"))
        return
    click.echo(ls_table(rows))
    for r in rows:
        if r["status"] == "unreadable":
            click.echo(terminal_text(f"runwal: note: {r['error']}"), err=True)
