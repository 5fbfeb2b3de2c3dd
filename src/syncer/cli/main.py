"""The ``runwal`` command line: one click group, one function per subcommand.

Inspection commands live here (ls, show, dump, verify, export); the sync
commands live in `syncer.cli.sync` and are registered below, in the block
marked "Commands from other modules". Shared pieces (the error line, exit
codes, ``--json``) are in `syncer.cli.common`; text layout in `syncer.cli.render`.

Exit statuses: 0 ok; 1 the command found a problem (verify: damage); 2 a
user mistake (bad path, not a run directory, bad option), printed as one
``runwal: error: ... (hint: ...)`` line on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from schema.errors import SchemaError
from schema.layout import child_runs, is_run_dir
from schema.reader import Frame, Incomplete, iter_run_log
from syncer.cli.common import (
    dumps,
    echo_json,
    json_option,
    open_run,
    require_dir,
    user_errors,
)
from syncer.cli.text import damage_line, ls_table, show_json, show_text, verify_report
from syncer.errors import ExportError
from syncer.inspect.dumpformat import parse_types, record_json, wanted
from syncer.inspect.runview import RunView, disk_usage, sync_checkpoints, sync_state
from syncer.inspect.tensorboard import export_run


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="runwal", prog_name="runwal")
def main() -> None:
    """runwal: crash-safe experiment logs, synced exactly once to MLflow.

    \b
    Inspect runs:   runwal ls ./runs        runwal show ./runs/<id>
                    runwal dump RUN         runwal verify RUN
                    runwal export RUN --tensorboard OUT_DIR

    \b
    Exit status: 0 ok; 1 the command found a problem (verify: damage;
    sync: a run failed); 2 usage error, printed as one line on stderr.
    """


# ---------------------------------------------------------------------------
# ls


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
        click.echo(f"runwal: note: {view.identity_error}", err=True)
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


@main.command("ls")
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
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no runs under {directory}")
        return
    click.echo(ls_table(rows))
    for r in rows:
        if r["status"] == "unreadable":
            click.echo(f"runwal: note: {r['error']}", err=True)


# ---------------------------------------------------------------------------
# show


@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@json_option
@user_errors
def show(run: Path, as_json: bool) -> None:
    """Everything about one RUN: identity, metadata, config, metrics, summary.

    Per metric: count, last, min, max and a sparkline of its values. Damage
    in the log is summarized at the end (details: `runwal verify RUN`).

    \b
    Exit status: 0 ok (also for a damaged run); 2 RUN is not a run directory.
    """
    open_run(run)
    view = RunView.load(run)
    if as_json:
        echo_json(show_json(view))
    else:
        click.echo(show_text(view))


# ---------------------------------------------------------------------------
# dump

@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--type", "types", multiple=True, metavar="T",
              help="Only records of type T (name or number; repeat or comma-separate).")
@click.option("--from-seq", type=click.IntRange(min=0), default=0, metavar="N",
              help="Start at sequence number N.")
@user_errors
def dump(run: Path, types: tuple[str, ...], from_seq: int) -> None:
    """Print RUN's records as JSON lines, in seq order.

    \b
    Every line has "seq", "type" (a name) and "ts" (Unix seconds), then:
      history                 "step", "data" {key: value}
      config, summary, stats  "data": the record's delta / sample
      others                  the body's fields spread on the line
      unknown types           "type": "unknown", "type_id": N, "body": raw body
    Strict JSON: NaN and infinities are written as the strings "NaN",
    "Infinity", "-Infinity"; bytes as "base64:...".

    Damage and torn tails are reported as notes on stderr; the dump goes on.

    \b
    Exit status: 0 ok (also for a damaged run); 2 RUN is not a run directory
    or a bad --type.
    """
    types_wanted = parse_types(types)
    rd = open_run(run)
    out = sys.stdout
    unknown_noted = False
    for ev in iter_run_log(rd.log_dir):
        if isinstance(ev, Frame):
            lines = []
            for rec in ev.records:
                if rec.seq < from_seq or not wanted(rec, types_wanted):
                    continue
                if rec.kind is None and not unknown_noted:
                    unknown_noted = True
                    click.echo(f"runwal: note: seq {rec.seq} has record type {rec.type}, unknown "
                               "to this runwal; dumped with its raw body", err=True)
                lines.append(dumps(record_json(rec)))
            if lines:
                out.write("\n".join(lines) + "\n")
        elif isinstance(ev, Incomplete):
            click.echo(f"runwal: note: torn tail at {ev.segment} offset {ev.offset}", err=True)
        else:
            out.flush()
            click.echo(f"runwal: note: damage: {damage_line(ev)}", err=True)
    out.flush()


# ---------------------------------------------------------------------------
# verify


@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@json_option
@user_errors
def verify(run: Path, as_json: bool) -> None:
    """Check every frame of RUN's log and name any damage.

    A torn tail (the last write cut short) is normal after a crash or while
    the run is live: it is reported but is not damage. Damage is a frame
    that fails its checksums or an unreadable segment: one line each, with
    segment, offset, bytes skipped and the seqs lost.

    \b
    Exit status: 0 clean or torn tail only; 1 damage found;
                 2 RUN is not a run directory.
    """
    rd = open_run(run)
    report = verify_report(rd, iter_run_log(rd.log_dir))
    text = report.pop("text")
    if as_json:
        echo_json(report)
    else:
        click.echo(text)
    if report["status"] == "damaged":
        sys.exit(1)


# ---------------------------------------------------------------------------
# export


@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--tensorboard", "tb_dir", metavar="OUT_DIR", type=click.Path(path_type=Path),
              required=True, help="Write a TensorBoard event file into OUT_DIR (created).")
@user_errors
def export(run: Path, tb_dir: Path) -> None:
    """Export RUN's history scalars for TensorBoard: `tensorboard --logdir OUT_DIR`.

    Numbers only (bools as 0/1; strings and None are skipped), with each
    record's step and wall time. The file is named after the run's creation
    time, so exporting again replaces it rather than duplicating the curves.

    \b
    Exit status: 0 ok; 2 RUN is not a run directory or OUT_DIR not writable.
    """
    open_run(run)
    if tb_dir.exists() and not tb_dir.is_dir():
        raise ExportError("exists and is not a directory", path=str(tb_dir))
    try:
        res = export_run(run, tb_dir)
    except OSError as exc:
        raise ExportError(f"cannot write: {exc.strerror or exc}", path=str(tb_dir)) from exc
    click.echo(f"wrote {res.events} events, {res.scalars} scalars, {len(res.tags)} tags "
               f"to {res.path}")
    if res.skipped:
        click.echo(f"runwal: note: {res.skipped} non-numeric values skipped", err=True)
    if res.damaged:
        click.echo(f"runwal: note: {res.damaged} damaged regions skipped; "
                   f"see `runwal verify {run}`", err=True)


# ---------------------------------------------------------------------------
# Commands from other modules: register them here, one line each.
from syncer.cli.follow import follow  # noqa: E402
from syncer.cli.sync import sync  # noqa: E402
from syncer.cli.syncd import syncd  # noqa: E402

main.add_command(sync)
main.add_command(syncd)
main.add_command(follow)
# ---------------------------------------------------------------------------

__all__ = ["main"]

if __name__ == "__main__":
    main()
