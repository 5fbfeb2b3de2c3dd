"""``runwal import tensorboard|wandb SOURCE... --into RUNS_DIR``: other tools' runs as run dirs.

Each source becomes one run dir (a TensorBoard logdir: one per directory of
event files) that ``runwal sync`` takes like any other. A source that cannot
be imported is one line in the table and the others go on; the exit status
is then 1. Importing again is safe: an unchanged source is skipped, a grown
one appended to (docs/IMPORT.md). Exit codes: 0 every source imported,
appended or unchanged; 1 a source failed; 2 usage error (a path that does
not exist, the importer's extra not installed).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import click

from syncer.cli.common import echo_json, json_option, user_errors
from syncer.cli.render import table
from syncer.errors import EXIT_PROBLEM, ImportProblem, MissingExtra, NoSuchDir
from syncer.importers.rundir import ImportResult, Source, import_source


class Progress:
    """Sources done / total and points/s on stderr: one updating line on a TTY, a line
    per source otherwise (as ``runwal sync`` does)."""

    def __init__(self, total: int, stream: IO[str] | None = None, quiet: bool = False):
        self.total, self.done, self.points = total, 0, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._current = 0  # points of the source being imported
        self._last = 0.0

    def update(self, points: int) -> None:
        """Points of the source in progress so far (redrawn on a TTY at most 5 times/s)."""
        with self._lock:
            self._current = points
            if self.tty and not self.quiet and time.monotonic() - self._last > 0.2:
                self._draw()

    def _draw(self) -> None:
        self._last = time.monotonic()
        points = self.points + self._current
        rate = points / max(1e-6, self._last - self.t0)
        self.stream.write(f"\rimport {self.done}/{self.total} runs  {points:,} points  "
                          f"{rate:,.0f} points/s ")
        self.stream.flush()

    def finished(self, res: ImportResult) -> None:
        with self._lock:
            self.done += 1
            self.points += res.points
            self._current = 0
            if self.quiet:
                return
            if self.tty:
                self._draw()
                return
            self.stream.write(f"[{self.done}/{self.total}] {res.run_id or res.source}: "
                              f"{res.status} {res.points} points {res.seconds:.1f}s\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()


def _require(paths: Iterable[str]) -> None:
    for raw in paths:
        if not Path(raw).exists():
            raise NoSuchDir("no such file or directory", path=raw,
                            hint="pass the directories to import (a logdir, a wandb "
                                 "offline-run-* directory)")


def _failed(path: Path, kind: str, exc: ImportProblem) -> ImportResult:
    return ImportResult(source=str(path), kind=kind, status="failed", reason=str(exc))


def run_import(kind: str, paths: tuple[str, ...], into: str,
               find: Callable[[Path], list[Source]], dry_run: bool, as_json: bool) -> None:
    """Find the sources under each path, import each, report, exit 1 if one failed."""
    _require(paths)
    sources: list[Source | ImportResult] = []
    for raw in paths:
        try:
            sources += find(Path(raw))
        except ImportProblem as exc:
            sources.append(_failed(Path(raw), kind, exc))
    dest = Path(into)
    if not dry_run:
        dest.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(sources), quiet=as_json and not sys.stderr.isatty())
    results = []
    try:
        for src in sources:
            if isinstance(src, ImportResult):
                progress.finished(src)
                results.append(src)
            else:
                results.append(import_source(src, dest, dry_run=dry_run,
                                             progress=progress.finished,
                                             tick=progress.update))
    finally:
        progress.close()
    _report(results, as_json)
    if any(r.status == "failed" for r in results):
        sys.exit(EXIT_PROBLEM)


def _report(results: list[ImportResult], as_json: bool) -> None:
    if as_json:
        echo_json({"runs": [r.to_json() for r in results]})
        return
    rows = [(r.run_id or "-", r.status, r.points, r.records, f"{r.seconds:.1f}",
             r.source if r.status != "failed" else f"{r.source}: {r.reason}")
            for r in results]
    click.echo(table(rows, ("RUN", "STATUS", "POINTS", "RECORDS", "SECONDS", "SOURCE"),
                     right={2, 3, 4}))
    for r in results:
        for note in r.notes[:20]:
            click.echo(f"  {r.run_id}: {note}", err=True)
        if len(r.notes) > 20:
            click.echo(f"  {r.run_id}: ... {len(r.notes) - 20} more notes", err=True)


into_option = click.option("--into", required=True, metavar="RUNS_DIR",
                           help="Directory the run dirs are written to (created if missing).")
dry_run_option = click.option("--dry-run", is_flag=True,
                              help="Read the sources and count what would be written; "
                                   "write nothing.")


@click.group("import")
def import_() -> None:
    """Import runs written by other tools (TensorBoard, wandb offline) as run dirs.

    \b
    runwal import tensorboard ./logs --into ./runs
    runwal import wandb ./wandb/offline-run-*/ --into ./runs
    runwal sync ./runs --to http://mlflow:5000

    Importing again is safe: unchanged sources are skipped, grown ones appended
    to, so a later `runwal sync` sends nothing twice. See docs/IMPORT.md.

    \b
    Exit status: 0 every source imported, appended or unchanged;
                 1 a source could not be imported (the others were);
                 2 usage error (a path that does not exist, a missing extra).
    """


@import_.command("tensorboard")
@click.argument("logdirs", nargs=-1, required=True)
@into_option
@click.option("--project", metavar="NAME",
              help="Project of the imported runs (default: each LOGDIR's name).")
@dry_run_option
@json_option
@user_errors
def tensorboard(logdirs: tuple[str, ...], into: str, project: str | None, dry_run: bool,
                as_json: bool) -> None:
    """Import TensorBoard LOGDIR...: one run per directory holding event files.

    Scalars become history at their step and wall time, hparams config, text
    console output, images and histograms media.

    \b
    Exit status: 0 every run imported, appended or unchanged;
                 1 a source could not be imported (the others were);
                 2 usage error (a path that does not exist, a missing extra).
    """
    try:
        from logwriter.tensorboard.events import messages

        messages()
    except ImportError as exc:
        raise MissingExtra(str(exc), hint="pip install 'runwal[tensorboard]'") from None
    from syncer.importers.tensorboard import find_runs

    def find(path: Path) -> list[Source]:
        return list(find_runs(path, project))

    run_import("tensorboard", logdirs, into, find, dry_run, as_json)


@import_.command("wandb")
@click.argument("run_dirs", nargs=-1, required=True)
@into_option
@dry_run_option
@json_option
@user_errors
def wandb(run_dirs: tuple[str, ...], into: str, dry_run: bool, as_json: bool) -> None:
    """Import wandb offline RUN_DIR... (./wandb/offline-run-*/, holding run-<id>.wandb).

    Config, history with steps, summary, system stats, console output, files,
    tags/notes/group and the exit status. Damaged blocks are skipped and
    reported; the rest is imported.

    \b
    Exit status: 0 every run imported, appended or unchanged (damage skipped
                   is a note, not a failure);
                 1 a source could not be imported (the others were);
                 2 usage error (a path that does not exist, a missing extra).
    """
    try:
        from syncer.importers.wandb import find_runs as find_wandb
    except ImportError as exc:
        raise MissingExtra(f"runwal import wandb needs wandb's protobuf messages ({exc})",
                           hint="pip install 'runwal[wandb-import]'") from None

    def find(path: Path) -> list[Source]:
        return list(find_wandb(path))

    run_import("wandb", run_dirs, into, find, dry_run, as_json)
