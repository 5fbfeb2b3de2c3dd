"""``runwal verify RUN``: every frame checked; the report is `syncer.inspect.verify`'s."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syncer.cli.common import echo_json, json_option, open_run, user_errors
from syncer.cli.text import verify_text
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
    LABEL: "; the verdict covers them all. RUN may be one stream directory.

    \b
    Exit status: 0 clean or torn tail only; 1 damage found (in any stream);
                 2 RUN is not a run directory.
    """
    report = VerifyReport.read(open_run(run))
    if as_json:
        echo_json(report.to_json())
    else:
        click.echo(verify_text(report))
    if report.status == "damaged":
        sys.exit(1)
