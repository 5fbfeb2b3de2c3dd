"""``runwal verify RUN``: every frame checked; the report is `syncer.inspect.verify`'s."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from schema.errors import SchemaError
from schema.layout import RunDir, child_runs, is_run_dir
from syncer.cli import render
from syncer.cli.common import by_id, echo_json, json_option, open_run, user_errors
from syncer.cli.text import verify_text
from syncer.inspect.spelling import terminal_text
from syncer.inspect.verify import VerifyReport


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@json_option
@user_errors
def verify(run: Path, as_json: bool) -> None:
    """Check every frame of RUN's log and name any damage.

    A torn tail (the last write cut short) is normal after a crash or while
    the run is live: it is reported but is not damage. Damage is a frame
    that fails its checksums or an unreadable segment: one line each, with
    segment, offset, bytes skipped and the seqs lost.

    A shared run's writer streams (streams/LABEL/) are verified too, each
    after the run's own log: a count line and findings prefixed "stream
    LABEL: "; the verdict covers them all. RUN may be one stream directory,
    a run id (found in $RUNWAL_DIR, else ./runs), or a directory of runs:
    then every run is verified, a line each.

    \b
    Exit status: 0 clean or torn tail only; 1 damage found (in any stream);
                 2 RUN is not a run directory.
    """
    place = by_id(run)
    if place.is_dir() and not is_run_dir(place) and child_runs(place):
        verify_all(place, as_json)
        return
    report = VerifyReport.read(open_run(run))
    if as_json:
        echo_json(report.to_json())
    else:
        click.echo(verify_text(report))
    if report.status == "damaged":
        sys.exit(1)


def verify_all(runs: Path, as_json: bool) -> None:
    """``runwal verify RUNS``: every run in a directory of runs, a line each (the
    reports under ``runs`` with --json); exit 1 if any is damaged."""
    reports = []
    for child in child_runs(runs):
        try:
            reports.append(VerifyReport.read(RunDir.open(child)))
        except SchemaError as exc:
            click.echo(terminal_text(f"runwal: note: {child}: {exc}"), err=True)
    if as_json:
        echo_json({"runs": [r.to_json() for r in reports]})
    else:
        for r in reports:
            lost = f", {render.plural(r.lost_records, 'record')} lost" if r.lost_records else ""
            click.echo(terminal_text(f"{r.path.name}  {r.status}  "
                                     f"{render.plural(r.records, 'record')}{lost}"))
        bad = sum(r.status == "damaged" for r in reports)
        click.echo(f"{render.plural(len(reports), 'run')} verified, {bad} damaged"
                   + (f": `runwal verify {runs}/<run>` names the damage" if bad else ""))
    if any(r.status == "damaged" for r in reports):
        sys.exit(1)
