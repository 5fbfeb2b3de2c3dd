"""``runwal show RUN``: everything about one run, folded by `syncer.inspect.runview`."""

from __future__ import annotations

from pathlib import Path

import click

from syncer.cli.common import echo_json, json_option, open_run, user_errors
from syncer.cli.text import show_json, show_text
from syncer.inspect.runview import RunView


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@json_option
@user_errors
def show(run: Path, as_json: bool) -> None:
    """Everything about one RUN: identity, metadata, config, metrics, summary.

    Per metric: count, last, min, max and a sparkline of its values. Damage
    in the log is summarized at the end (details: `runwal verify RUN`).

    \b
    RUN is a run directory, or a run id found in $RUNWAL_DIR, else ./runs.

    \b
    Exit status: 0 ok (also for a damaged run); 2 RUN is not a run directory.
    """
    view = RunView.load(open_run(run).path)  # RUN may be a run id in ./runs
    if as_json:
        echo_json(show_json(view))
    else:
        click.echo(show_text(view))
