"""``runwal ls DIR``: one row per run under DIR (or DIR itself when it is a run)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from schema.errors import SchemaError
from schema.layout import STREAMS_DIR, RunDir, child_runs, is_run_dir
from syncer.cli.common import echo_json, json_option, require_dir, user_errors
from syncer.cli.text import ls_table
from syncer.inspect.lscache import LsCache, fingerprint
from syncer.inspect.runview import RunView, disk_usage, sync_checkpoints, sync_state_of
from syncer.inspect.spelling import spell, terminal_text


def find_runs(directory: Path) -> list[Path]:
    """DIR itself when it is a run, else its child directories that are runs. A shared
    run's writer stream is never a run of its own: a stream directory (or the
    ``streams/`` directory) stands for the run it belongs to (a run's children are
    never streams: those live a level deeper, in its streams/)."""
    owner = _run_of(directory)
    if owner is not None:
        return [owner]
    if is_run_dir(directory):
        return [directory]
    return child_runs(directory)


def _run_of(directory: Path) -> Path | None:
    """The run ``directory`` is a writer stream (or the streams/ directory) of."""
    where = Path(os.path.abspath(directory))  # `ls .` inside a stream, `ls rank_1/..`
    parent = RunDir(where).parent_run()
    if parent is not None:
        return parent.path
    if where.name == STREAMS_DIR and is_run_dir(where.parent) and not is_run_dir(where):
        return where.parent
    return None


def ls_entry(path: Path, cache: LsCache | None = None) -> dict[str, Any]:
    """One ``ls`` row as JSON; a run that cannot be read gets status "unreadable".
    With a ``cache``, a run whose log has not changed is not read again (lscache.py)."""
    fp = fingerprint(path) if cache is not None else None
    row = cache.get(path.name, fp) if cache is not None else None
    if row is None:
        row = log_entry(path)
        if cache is not None and row["status"] != "unreadable":
            cache.put(path.name, fp, row)
    if row.get("note"):
        click.echo(terminal_text(f"runwal: note: {row['note']}"), err=True)
    out = {"run_id": row["run_id"], "path": str(path),
           **{k: v for k, v in row.items() if k not in ("run_id", "path", "note", _STREAM_SEQS)}}
    if out["status"] != "unreadable":  # the sync state changes without the log: read it now
        ckpts = sync_checkpoints(path)
        out["sync"], out["sync_seq"] = sync_state_of(out["last_seq"], ckpts), ckpts
        seqs = row.get(_STREAM_SEQS)
        if isinstance(seqs, dict) and seqs:
            out["sync"] = _combined([out["sync"], *(
                sync_state_of(last, sync_checkpoints(path / STREAMS_DIR / label))
                for label, last in seqs.items())])
    return out


_STREAM_SEQS = "stream_last_seq"  # cached with the row, not printed: each stream's sync state


def _combined(states: list[str]) -> str:
    """A shared run's sync state: the streams' when they agree, else "partial"."""
    return states[0] if len(set(states)) == 1 else "partial"


def log_entry(path: Path) -> dict[str, Any]:
    """The part of an ``ls`` row that comes from the run's log and run.json; a shared
    run's counts sum over its writer streams, its health is the worst of them."""
    try:
        view = RunView.load(path, sample_width=1)
    except SchemaError as exc:
        return {"run_id": path.name, "path": str(path), "status": "unreadable", "error": str(exc),
                "created": None}
    views = [view, *view.streams]
    steps = [v.last_step for v in views if v.last_step is not None]
    return {
        "run_id": view.run_id,
        "path": str(path),
        "project": view.identity.get("project") or view.run.get("project"),
        "name": view.identity.get("name") or view.run.get("name"),
        "created": view.created,
        "status": view.status,
        "exit_code": view.exit_code,
        "runtime": view.runtime,
        "steps": max(v.step_count for v in views),  # every stream counts the same steps
        "last_step": max(steps) if steps else None,
        "records": sum(v.records for v in views),
        "last_seq": view.last_seq,
        "size": disk_usage(path),
        "health": ("damaged" if any(v.damage for v in views)
                   else "torn" if any(v.torn for v in views) else "ok"),
        "damage": sum(len(v.damage) for v in views),
        "streams": len(view.streams),
        _STREAM_SEQS: {v.label: v.last_seq for v in view.streams},
        "note": view.identity_error,
    }


@click.command("ls")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@json_option
@user_errors
def ls(directory: Path, as_json: bool) -> None:
    """List the runs under DIR (a directory of runs, or one run), oldest first.

    \b
    Columns: run id, project, name, created, status ("unfinished" when the
    run has no exit record: still running, or it crashed), steps (distinct
    steps logged: a step logged in two calls counts once), records, size on
    disk, health (ok / torn tail / damaged; `runwal verify` tells more) and
    sync ("synced" when a sync checkpoint covers the last record, "partial",
    "-" never synced).

    \b
    A shared run is one row: steps, records, size and health cover all its
    writer streams (streams/LABEL/), and its RUN cell ends in "+N", its N
    writer streams besides the run's own ("streams" in --json, 0 for a
    plain run). A stream directory is never listed as a run.

    \b
    A run whose log has not changed since the last `ls` is not read again:
    its row is kept in ~/.cache/runwal/ls (RUNWAL_CACHE_DIR moves it; set it
    empty to switch the cache off).

    \b
    Exit status: 0 ok, also when DIR holds no runs; 2 DIR missing.
    """
    require_dir(directory)
    runs = find_runs(directory)
    cache = LsCache(directory)
    rows = [ls_entry(p, cache) for p in runs]
    cache.keep_only({p.name for p in runs})
    cache.save()
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
