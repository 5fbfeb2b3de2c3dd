"""The importer process: ``python -m logwriter.importers KIND --into RUNS [--project NAME]
[--dry-run] -- SOURCE...``.

``runwal import`` (the syncer's command, which never imports logwriter)
starts it and renders what it says; it can be run by hand as well. KIND is
``tensorboard`` or ``wandb``. Every SOURCE is looked at first (a logdir may
hold many runs), then each run found is imported in turn through
`logwriter.importers.rundir.import_source`.

stdout carries the protocol lines of `schema.import_protocol` and nothing
else: started, progress, one result per source (a source that cannot be
imported, the importer's extra missing included, is a failed result, never
an abort), done. Anything else printed in this process (a warning, a
library's print, a bug's traceback) goes to stderr: fd 1 is pointed at fd 2
once the protocol holds its own copy of the pipe.

SIGINT and SIGTERM stop the import at once: the source in progress has its
writer closed; a fresh import of it is left under ``RUNS/.importing/`` (done
again next time), no done line is written. A closed stdout (the command is
gone) stops it the same way.

Exit status: 0 the done line was written (failed sources are the command's
business); 2 bad arguments or an ``--into`` that cannot be created; 128+N
stopped by signal N (SIGPIPE for a closed stdout).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from logwriter.importers.errors import ImportProblem
from logwriter.importers.rundir import Source, import_source
from schema import import_protocol as protocol
from schema.import_protocol import FAILED, MISSING_EXTRA, ImportResult

EXTRAS = {"tensorboard": "runwal[tensorboard]", "wandb": "runwal[wandb-import]"}

Say = Callable[[str], None]
Finder = Callable[[Path], list[Source]]


class Stopped(BaseException):
    """SIGTERM or a closed stdout: stop now, as KeyboardInterrupt does for SIGINT (a
    BaseException, so no per-source ``except`` turns it into a failed result)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def finder(kind: str, project: str | None = None) -> Finder:
    """The function that finds ``kind``'s sources under a path; ImportError when the
    importer's extra (its protobuf messages) is not installed."""
    if kind == "tensorboard":
        from logwriter.tensorboard.events import messages

        messages()
        from logwriter.importers.tensorboard import find_runs

        return lambda path: list(find_runs(path, project))
    if kind == "wandb":
        try:
            from logwriter.importers.wandb import find_runs as find_wandb
        except ImportError as exc:
            raise ImportError(f"runwal import wandb needs wandb's protobuf messages ({exc})"
                              ) from None
        return lambda path: list(find_wandb(path))
    raise ValueError(f"unknown kind of source: {kind!r} (one of {', '.join(protocol.KINDS)})")


def run_batch(kind: str, paths: Sequence[str], into: str | Path, *, say: Say,
              project: str | None = None, dry_run: bool = False) -> list[ImportResult]:
    """Import every source under ``paths`` into ``into``, saying each step as a protocol
    line; the results, one per source. Raises only for a signal (or OSError when
    ``into`` cannot be created)."""
    try:
        find = finder(kind, project)
    except ImportError as exc:
        reason = str(exc)
        if EXTRAS[kind] not in reason:
            reason += f" (hint: pip install '{EXTRAS[kind]}')"
        missing = [ImportResult(source=str(p), kind=kind, status=FAILED, reason=reason,
                                error=MISSING_EXTRA) for p in paths]
        return _report(missing, kind, say)
    found: list[Source | ImportResult] = []
    for raw in paths:
        try:
            found += find(Path(raw))
        except ImportProblem as exc:  # the row names the source: the reason need not
            hint = f" (hint: {exc.hint})" if exc.hint else ""
            found.append(ImportResult(source=str(Path(raw)), kind=kind, status=FAILED,
                                      reason=f"{exc.args[0]}{hint}"))
        except OSError as exc:
            found.append(ImportResult(source=str(Path(raw)), kind=kind, status=FAILED,
                                      reason=f"{exc.strerror or exc}: {exc.filename or raw}"))
    found = one_each(found)
    dest = Path(into)
    if not dry_run:
        dest.mkdir(parents=True, exist_ok=True)
    results: list[ImportResult] = []
    for index, src in enumerate(found):
        source = src.source if isinstance(src, ImportResult) else str(src.path)
        say(protocol.started_line(index, len(found), source, kind))
        if isinstance(src, ImportResult):
            res = src
        else:
            def tick(points: int, index: int = index) -> None:
                say(protocol.progress_line(index, points))

            res = _import_one(src, dest, dry_run, tick)
        results.append(res)
        say(protocol.result_line(index, res))
    say(protocol.done_line(len(results), sum(r.status == FAILED for r in results)))
    return results


def one_each(found: list[Source | ImportResult]) -> list[Source | ImportResult]:
    """``found`` with each source once: the same directory reached through a symlink
    (wandb's ``latest-run``) or another path is one source, imported once."""
    seen: set[Path] = set()
    out: list[Source | ImportResult] = []
    for src in found:
        if not isinstance(src, ImportResult):
            try:
                real = src.path.resolve()
            except OSError:
                real = src.path
            if real in seen:
                continue
            seen.add(real)
        out.append(src)
    return out


def _report(results: list[ImportResult], kind: str, say: Say) -> list[ImportResult]:
    for index, res in enumerate(results):
        say(protocol.started_line(index, len(results), res.source, kind))
        say(protocol.result_line(index, res))
    say(protocol.done_line(len(results), sum(r.status == FAILED for r in results)))
    return results


def _import_one(src: Source, dest: Path, dry_run: bool,
                tick: Callable[[int], None]) -> ImportResult:
    try:
        return import_source(src, dest, dry_run=dry_run, tick=tick)
    except Exception as exc:  # a bug costs this source only, and shows where it is
        traceback.print_exc()
        return ImportResult(source=str(src.path), kind=src.kind, status=FAILED,
                            reason=f"the importer failed on it ({type(exc).__name__}: {exc}; "
                                   "its traceback is on stderr, please report it)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m logwriter.importers",
        description="Import TensorBoard logdirs or wandb offline runs as run dirs, saying "
                    "what happens as JSON lines on stdout (schema.import_protocol). "
                    "Users run `runwal import`, which starts this.")
    ap.add_argument("kind", choices=protocol.KINDS)
    ap.add_argument("sources", nargs="+", metavar="SOURCE")
    ap.add_argument("--into", required=True, metavar="RUNS_DIR")
    ap.add_argument("--project", default=None, metavar="NAME",
                    help="tensorboard: the project of the runs (default: each LOGDIR's name)")
    ap.add_argument("--dry-run", action="store_true")
    return ap


def _protocol_stdout() -> IO[str]:
    """A private copy of stdout for the protocol; fd 1 (print, C code) then goes to stderr."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="backslashreplace")
    os.dup2(2, 1)
    return out


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = _protocol_stdout()

    def say(line: str) -> None:
        try:
            out.write(line + "\n")
            out.flush()
        except (BrokenPipeError, ValueError):  # ValueError: closed by an earlier failure
            raise Stopped(signal.SIGPIPE) from None

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        run_batch(args.kind, args.sources, args.into, say=say, project=args.project,
                  dry_run=args.dry_run)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except Stopped as stop:
        if stop.signum == signal.SIGPIPE:
            _drop(out)
        return 128 + stop.signum
    except OSError as exc:
        print(f"python -m logwriter.importers: error: cannot import into {args.into}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _drop(out: IO[str]) -> None:
    """Point the dead pipe at /dev/null, so the interpreter's last flush is silent."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, out.fileno())
    os.close(devnull)
