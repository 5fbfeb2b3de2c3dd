"""``runwal import tensorboard|wandb SOURCE... --into RUNS_DIR``: other tools' runs as run dirs.

Each source becomes one run dir (a TensorBoard logdir: one per directory of
event files) that ``runwal sync`` takes like any other. A source that cannot
be imported is one line in the table and the others go on; the exit status
is then 1. Importing again is safe: an unchanged source is skipped, a grown
one appended to (docs/IMPORT.md).

Importing writes run dirs, which is the SDK's work, and the syncer never
imports logwriter: this command checks what it can by itself (the paths
exist, ``--into`` can be made), then starts ``python -m logwriter.importers``
(`logwriter.importers.entry`) as a process, reads its stdout with
`schema.import_protocol` and renders it: the progress line on stderr, the
table or ``--json``. The importer's stderr is this command's (its warnings
reach the user as they are); SIGTERM, and a SIGINT the terminal did not
also send it, are forwarded to it.

Exit codes: 0 every source imported, appended or unchanged; 1 a source
failed, or the importer process ended before it finished; 2 usage error (a
path that does not exist, the importer's extra not installed); 128+N
interrupted by signal N.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import click

from schema import import_protocol as protocol
from schema.import_protocol import FAILED, MISSING_EXTRA, ImportResult
from syncer.cli.common import echo_json, error_line, json_option, user_errors
from syncer.cli.progress import Progress
from syncer.cli.render import table
from syncer.errors import EXIT_PROBLEM, ImportProblem, MissingExtra, NoSuchDir


class ImportProgress(Progress):
    """`Progress` fed with the points of the source being imported so far."""

    def __init__(self, total: int, stream: IO[str] | None = None, quiet: bool = False):
        super().__init__("import", total, stream, quiet)
        self._current = 0  # points of the source in progress, already counted

    def update(self, points: int) -> None:
        self.advance(points - self._current)
        self._current = points

    def finished(self, res: ImportResult) -> None:
        more, self._current = res.points - self._current, 0
        self.run_done(res.run_id or res.source, res.status, res.points, res.seconds, more)


def _require(paths: tuple[str, ...]) -> None:
    for raw in paths:
        if not Path(raw).exists():
            raise NoSuchDir("no such file or directory", path=raw,
                            hint="pass the directories to import (a logdir, a wandb "
                                 "offline-run-* directory)")


def importer_command(kind: str, paths: tuple[str, ...], into: str, *,
                     project: str | None = None, dry_run: bool = False) -> list[str]:
    """The command line of the importer process (``--opt=value``, and ``--`` before the
    sources, so that a name starting with ``-`` is never taken for an option)."""
    if not sys.executable:
        raise ImportProblem("sys.executable is empty: no Python to start the importer with")
    cmd = [sys.executable]
    if sys.version_info >= (3, 11):
        cmd.append("-P")  # a ./logwriter directory in the user's cwd must not shadow ours
    cmd += ["-m", protocol.MODULE, kind, f"--into={into}"]
    if project is not None:
        cmd.append(f"--project={project}")
    if dry_run:
        cmd.append("--dry-run")
    return [*cmd, "--", *paths]


def _terminal_sends_sigint() -> bool:
    """True when we are the terminal's foreground group: the importer, in our group, got
    Ctrl-C itself, and a second SIGINT would interrupt its cleanup (as `runwal run`)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


@dataclass
class Outcome:
    """What the importer process said, and how it ended."""

    results: list[ImportResult] = field(default_factory=list)
    total: int = 0
    done: bool = False
    returncode: int = 0
    signals: list[int] = field(default_factory=list)  # received here, and forwarded
    missing: ImportResult | None = None  # a result saying the importer's extra is missing


def drive(cmd: list[str], progress: ImportProgress) -> Outcome:
    """Run the importer, following its protocol lines until its stdout closes. SIGINT and
    SIGTERM are caught from before it starts, so none is lost in between."""
    out = Outcome()
    children: list[subprocess.Popen[str]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        out.signals.append(signum)
        if signum == signal.SIGINT and _terminal_sends_sigint():
            return
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     encoding="utf-8", errors="replace", close_fds=True)
        except OSError as exc:
            raise ImportProblem(f"cannot start the importer ({protocol.MODULE}): "
                                f"{exc.strerror or exc}") from None
        children.append(child)
        if out.signals:  # one came while it was being started
            child.send_signal(out.signals[0])
        try:
            assert child.stdout is not None
            for line in child.stdout:
                _follow(line, out, progress)
            out.returncode = child.wait()
        finally:
            if child.poll() is None:  # leaving early (a bug, a closed stderr): no orphan
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return out


def _follow(line: str, out: Outcome, progress: ImportProgress) -> None:
    ev = protocol.parse_line(line)
    if ev is None:  # not protocol: the importer prints nothing else there, pass it on
        if line.strip():
            sys.stderr.write(line)
        return
    if ev.event == protocol.STARTED:
        out.total = progress.total = ev.total
    elif ev.event == protocol.PROGRESS:
        progress.update(ev.points)
    elif ev.event == protocol.RESULT and ev.result is not None:
        if ev.result.error == MISSING_EXTRA:
            out.missing = ev.result
            return
        progress.finished(ev.result)
        out.results.append(ev.result)
    elif ev.event == protocol.DONE:
        out.done = True


def run_import(kind: str, paths: tuple[str, ...], into: str, *, project: str | None = None,
               dry_run: bool, as_json: bool) -> None:
    """Import each source in the importer process, report, exit 1 if one failed."""
    _require(paths)
    if not dry_run:
        Path(into).mkdir(parents=True, exist_ok=True)
    cmd = importer_command(kind, paths, into, project=project, dry_run=dry_run)
    progress = ImportProgress(len(paths), quiet=as_json and not sys.stderr.isatty())
    try:
        out = drive(cmd, progress)
    finally:
        progress.close()
    if out.missing is not None:
        raise MissingExtra(out.missing.reason, hint="")  # the reason holds the pip line
    if not out.done and out.signals:
        _report(out.results, as_json)
        name = signal.Signals(out.signals[0]).name
        click.echo(error_line(
            f"import interrupted by {name}: {len(out.results)} of {out.total or '?'} "
            "sources done (hint: run the same `runwal import` again: what was imported "
            "is kept, the rest is imported then)"), err=True)
        raise SystemExit(128 + out.signals[0])
    if not out.done:
        _report(out.results, as_json)
        rc = out.returncode
        how = (f"was killed by {signal.Signals(-rc).name}" if rc < 0
               else f"ended with status {rc}")
        raise ImportProblem(
            f"the importer process ({protocol.MODULE}) {how} before it finished: "
            f"{len(out.results)} of {out.total or '?'} sources reported",
            hint="its own error, if any, is on stderr above; run the same `runwal import` "
                 "again for the sources it did not report")
    _report(out.results, as_json)
    if any(r.status == FAILED for r in out.results):
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

    The import itself runs in a separate process (`python -m logwriter.importers`,
    the SDK's half of runwal); Ctrl-C and SIGTERM reach it.

    \b
    Exit status: 0 every source imported, appended or unchanged;
                 1 a source could not be imported (the others were), or the
                   importer process ended before it finished;
                 2 usage error (a path that does not exist, a missing extra);
                 128+N interrupted by signal N (130: Ctrl-C).
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
                 2 usage error (a path that does not exist, a missing extra);
                 128+N interrupted by signal N.
    """
    run_import("tensorboard", logdirs, into, project=project, dry_run=dry_run,
               as_json=as_json)


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
                 2 usage error (a path that does not exist, a missing extra);
                 128+N interrupted by signal N.
    """
    run_import("wandb", run_dirs, into, dry_run=dry_run, as_json=as_json)
