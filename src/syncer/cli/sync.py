"""``runwal sync RUN_DIR... --to URI``: replay run directories to MLflow.

Runs are synced in parallel by a bounded pool of workers sharing one
keep-alive HTTP client. A bad run (not a run dir, damaged, refused by the
server) is reported and the others go on; the summary table at the end names
every run with its status. A path that does not exist is different: it is a
typo on the command line, so nothing is synced and the command says so in
one line (exit 2), like every other command. Exit codes: 0 all synced,
skipped or partial (partial = synced what exists but the run is not
finished, or records were refused / damaged; see the reason column); 1 at
least one run failed or the server cannot be reached; 2 usage error (a path
that does not exist, no server configured, bad option).
"""

from __future__ import annotations

import contextlib
import fnmatch
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import click

from schema import uri as tracking_uri
from schema.layout import RunDir, child_runs, foreign_run_hint, is_run_dir
from schema.records import finite_number
from schema.uri import public_uri
from syncer.cli.common import echo_json, json_option, user_errors
from syncer.cli.progress import Progress
from syncer.engine import synclock
from syncer.engine.plan import plan_run
from syncer.engine.result import SyncResult
from syncer.engine.unit import sync_path
from syncer.errors import EXIT_PROBLEM, NoSuchDir
from syncer.inspect.spelling import terminal_text
from syncer.sinks.mlflow.connect import open_server, run_url, server_uri
from syncer.sinks.mlflow.mapping import count_points
from syncer.sinks.mlflow.sink import sink_name_for


def require_paths(paths: Iterable[str]) -> None:
    """NoSuchDir (exit 2) for the first path that does not exist: a typo, not a bad
    run. One that exists but is no run (a file, a damaged run) is a failed run."""
    for raw in paths:
        if not Path(raw).exists():
            raise NoSuchDir("no such file or directory", path=raw,
                            hint="pass run directories such as ./runs/<run_id>, or ./runs "
                                 "for every run in it")


def expand(paths: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """(run dirs named on the command line, directories that hold no run). A directory
    of runs stands for its runs; one with none in it (an empty ./runs) for nothing,
    as ``runwal ls`` and ``syncd --once`` see it. A directory holding another tool's
    run (TensorBoard, wandb) stays, so that its failure says how to import it."""
    out: list[Path] = []
    empty: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and not is_run_dir(p):
            kids = child_runs(p)
            if kids:
                out += kids
                continue
            if foreign_run_hint(p) is None:
                empty.append(p)
                continue
        out.append(p)
    return out, empty


def identity_of(path: Path) -> dict[str, Any]:
    """The run's run.json (read once per run, for --include/--exclude, the order and the
    NAME column); {} when it cannot be read (the sync itself reports why)."""
    with contextlib.suppress(Exception):
        return RunDir.open(path).identity()
    return {}


def selected(path: Path, identity: dict[str, Any], include: tuple[str, ...],
             exclude: tuple[str, ...]) -> bool:
    names = {path.name, str(identity.get("run_id") or path.name)}
    if include and not any(fnmatch.fnmatch(n, g) for n in names for g in include):
        return False
    return not any(fnmatch.fnmatch(n, g) for n in names for g in exclude)


class SyncProgress(Progress):
    """`Progress` fed with a run's running `SyncResult` (its points so far)."""

    def __init__(self, total: int, stream: IO[str] | None = None, quiet: bool = False):
        super().__init__("sync", total, stream, quiet)
        self._seen: dict[int, int] = {}  # points already counted per result in flight

    def update(self, result: SyncResult) -> None:
        seen = self._seen.get(id(result), 0)
        self._seen[id(result)] = result.points
        self.advance(result.points - seen)

    def finished(self, result: SyncResult) -> None:
        more = result.points - self._seen.pop(id(result), 0)
        self.run_done(result.run_id or result.run_dir, result.status, result.points,
                      result.seconds, more)


def in_creation_order(identities: dict[Path, dict[str, Any]]) -> tuple[list[Path],
                                                                        dict[Path, str]]:
    """The runs oldest first (as `runwal ls` lists them; run ids are random), and each
    one's name."""
    def created(p: Path) -> float | None:
        return finite_number(identities[p].get("created"))  # forged values too

    ordered = sorted(identities, key=lambda p: (created(p) is None, created(p) or 0.0, str(p)))
    names = {p: name if isinstance(name := identities[p].get("name"), str) else ""
             for p in identities}
    return ordered, names


def _table(results: list[SyncResult], uri: str, names: dict[str, str]) -> str:
    rows = [("RUN", "NAME", "STATUS", "POINTS", "SECONDS", "URL", "REASON")]
    for r in results:
        url = run_url(uri, r.experiment_id, r.server_run_id) if uri else ""
        name = names.get(r.run_dir, "") or "-"
        rows.append((r.run_id or r.run_dir, name[:40], r.status, str(r.points),
                     f"{r.seconds:.1f}", url or "-", r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row[:6], widths, strict=True)) + "  " + row[6]
        for row in rows
    ]
    return "\n".join(terminal_text(line.rstrip()) for line in lines)


def run_sync(
    paths: list[Path],
    uri: str,
    *,
    workers: int,
    connect_timeout: float,
    deadline: float,
    progress: SyncProgress,
) -> list[SyncResult]:
    """Sync ``paths`` to ``uri``; results in the order of ``paths``."""
    with open_server(
        uri, workers=workers, connect_timeout=connect_timeout, deadline=deadline
    ) as server:
        server.check(connect_timeout)

        def one(path: Path) -> SyncResult:
            res = sync_path(path, server, progress=progress.update)
            progress.finished(res)
            return res

        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="runwal-sync") as pool:
            return list(pool.map(one, paths))


@click.command("sync")
@click.argument("run_dirs", nargs=-1, required=True)
@click.option(
    "--to",
    "to",
    metavar="URI",
    help="MLflow tracking URI (default: $RUNWAL_SERVER, then $MLFLOW_TRACKING_URI).",
)
@click.option(
    "--workers",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Runs synced in parallel.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; contact no server.")
@click.option("--include", multiple=True, metavar="GLOB", help="Only runs whose id or dir matches.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip runs whose id or dir matches.")
@click.option(
    "--connect-timeout",
    default=5.0,
    show_default=True,
    type=float,
    help="Seconds to wait for the server before giving up on the first request.",
)
@click.option(
    "--deadline",
    default=120.0,
    show_default=True,
    type=float,
    help="Seconds a failing request is retried before its run is marked failed.",
)
@json_option
@user_errors
def sync(
    run_dirs: tuple[str, ...],
    to: str | None,
    workers: int,
    dry_run: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    connect_timeout: float,
    deadline: float,
    as_json: bool,
) -> None:
    """Replay RUN_DIR... to an MLflow server, exactly once; resumes where it stopped.

    A directory of runs (./runs) stands for every run in it. A bad run is
    reported and the others go on; a path that does not exist stops the
    command before anything is synced.

    \b
    Exit status: 0 every run synced, skipped (already synced) or partial, also
                   when a directory holds no runs (a note says so);
                 1 a run failed (not a run, damaged, refused) or the server
                   is unreachable;
                 2 usage error (a path that does not exist, no server
                   configured, bad option).
    """
    require_paths(run_dirs)
    synclock.set_role("sync")  # a run this holds is "busy: another `runwal sync`" to others
    # --dry-run needs no server, but a URI given (--to or the environment) must be
    # one: the same one line and exit 2 as without --dry-run, never a password.
    uri = server_uri(to) if not dry_run or tracking_uri.resolve(to) else ""
    found, empty = expand(run_dirs)
    identities = {p: identity_of(p) for p in found}
    paths, names = in_creation_order({p: ident for p, ident in identities.items()
                                      if selected(p, ident, include, exclude)})
    for where in empty:
        click.echo(terminal_text(f"runwal: note: no runs under {where}"), err=True)
    if not paths and not found:  # nothing to do: no server needed, nothing failed
        if as_json:
            echo_json({"runs": []})
        return
    if dry_run:
        name, shown = (sink_name_for(uri), public_uri(uri)) if uri else ("", "")
        results = [plan_run(p, name, shown, count_points) for p in paths]
    else:
        progress = SyncProgress(len(paths), quiet=as_json and not sys.stderr.isatty())
        try:
            results = run_sync(
                paths,
                uri,
                workers=workers,
                connect_timeout=connect_timeout,
                deadline=deadline,
                progress=progress,
            )
        finally:
            progress.close()
    _report(results, as_json, "" if dry_run else uri, {str(p): n for p, n in names.items()})
    if any(r.status == "failed" for r in results):
        sys.exit(EXIT_PROBLEM)


def _report(results: list[SyncResult], as_json: bool, uri: str,
            names: dict[str, str]) -> None:
    """The summary; each run's MLflow page as ``url`` ("" when the server has no run)."""
    if as_json:
        echo_json({"runs": [
            {**r.to_json(), "name": names.get(r.run_dir, ""),
             "url": run_url(uri, r.experiment_id, r.server_run_id) if uri else ""}
            for r in results]})
        return
    click.echo(_table(results, uri, names))
    for r in results:
        for rej in r.rejected[:20]:
            click.echo(f"  {r.run_id}: rejected {rej.describe()}", err=True)
        for note in r.notes[:20]:
            click.echo(f"  {r.run_id}: {note}", err=True)


if __name__ == "__main__":
    sync()
