"""``runwal export RUN --tensorboard OUT_DIR`` (the event files: `syncer.inspect.tensorboard`)."""

from __future__ import annotations

from pathlib import Path

import click

from syncer.cli import render
from syncer.cli.common import open_run, user_errors
from syncer.errors import ExportError
from syncer.inspect.spelling import terminal_text
from syncer.inspect.tensorboard import export_run


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--tensorboard", "tb_dir", metavar="OUT_DIR", type=click.Path(path_type=Path),
              required=True, help="Write a TensorBoard event file into OUT_DIR (created).")
@user_errors
def export(run: Path, tb_dir: Path) -> None:
    """Export RUN's history and media for TensorBoard: `tensorboard --logdir OUT_DIR`.

    History: numbers only (bools as 0/1; strings and None are skipped), with
    each record's step and wall time. Media at their step: images (and GIF
    videos) in the Images tab, audio in Audio, histograms in Histograms and
    Distributions, HTML and tables in Text; other video formats are skipped.
    The file is named after the run's creation time, so exporting again
    replaces it rather than duplicating the curves.

    A shared run's writer streams (streams/LABEL/) go into the same file,
    their tags under their label as the server shows them (rank_1/loss).

    \b
    Exit status: 0 ok; 2 RUN is not a run directory or OUT_DIR not writable.
    """
    run = open_run(run).path  # RUN may be a run id in ./runs
    if tb_dir.exists() and not tb_dir.is_dir():
        raise ExportError("exists and is not a directory", path=str(tb_dir))
    try:
        res = export_run(run, tb_dir)
    except OSError as exc:
        raise ExportError(f"cannot write: {exc.strerror or exc}", path=str(tb_dir)) from exc
    media = "".join(f", {n} {kind}" for kind, n in sorted(res.media.items()))
    click.echo(terminal_text(f"wrote {res.events} events, {res.scalars} scalars{media}, "
                          f"{len(res.tags)} tags to {res.path}"))
    for note in res.notes:
        click.echo(terminal_text(f"runwal: note: {note}"), err=True)
    if res.skipped:
        click.echo(f"runwal: note: {res.skipped} non-numeric values skipped", err=True)
    if res.media_skipped:
        click.echo(f"runwal: note: {res.media_skipped} media items skipped (file missing, "
                   "or a format TensorBoard cannot show)", err=True)
    if res.damaged:
        click.echo(f"runwal: note: {render.plural(res.damaged, 'damaged region')} skipped; "
                   f"see `runwal verify {run}`", err=True)
