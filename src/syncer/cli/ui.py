"""``runwal ui [DIR]``: MLflow's UI over a directory of runs, for a user with no server.

An air-gapped user has runs on disk and no tracking server. This starts a
local MLflow (``mlflow server`` on loopback, SQLite store and artifacts under
the user's cache dir, `syncer.sinks.mlflow.loopback_server`) and a
``runwal syncd DIR`` into it, prints the address, and stops both on Ctrl-C
or SIGTERM (syncd first, so its batches in flight are checkpointed).

The store outlives the command and so do the runs' checkpoints (named after
the server's address): the port used is remembered in ``ui.json`` beside the
store and taken again next time, so a second ``runwal ui`` skips what the
first one synced; if that port is taken, the runs are found again on the
server by their ``runwal.run_id`` tag, never created twice.

syncd runs in its own session so that Ctrl-C reaches this process only, which
then stops it with one SIGTERM (a second signal would make syncd exit at once).
Exit codes: 0 stopped by Ctrl-C/SIGTERM; 1 the server or syncd did not start
or syncd ended by itself with an error; 2 usage error (DIR missing, mlflow not
installed).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

from syncer.cli.common import require_dir, user_errors
from syncer.cli.syncd import stop_on_signals
from syncer.errors import EXIT_PROBLEM
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer, free_port, port_free

DEFAULT_PORT = 5000  # MLflow's own default: what a user of `mlflow ui` expects


def default_store() -> Path:
    """``$XDG_CACHE_HOME/runwal/ui``, else ``~/.cache/runwal/ui``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "runwal" / "ui"


def choose_port(store: Path, asked: int | None) -> int:
    """``--port``, else the port of the last `runwal ui` on this store, else 5000,
    else any free one (the first two keep the runs' checkpoints valid)."""
    if asked:
        return asked
    try:
        last = int(json.loads((store / "ui.json").read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        last = 0
    for port in (last, DEFAULT_PORT):
        if port and port_free(port):
            return port
    return free_port()


@click.command("ui")
@click.argument("directory", metavar="[DIR]", required=False, type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port of the local MLflow (default: the last one used, else 5000).")
@click.option("--store", type=click.Path(path_type=Path), default=None,
              help="Where the local MLflow keeps its database and artifacts "
                   "(default: ~/.cache/runwal/ui).")
@user_errors
def ui(directory: Path | None, port: int | None, store: Path | None) -> None:
    """Open MLflow's UI on DIR's runs (default: $RUNWAL_DIR, else ./runs): a local
    MLflow server plus a `runwal syncd` into it. Ctrl-C stops both.

    \b
    Exit status: 0 stopped by Ctrl-C/SIGTERM;
                 1 the server or syncd failed;
                 2 usage error (DIR missing, mlflow not installed).
    """
    root = require_dir(directory or Path(os.environ.get("RUNWAL_DIR") or "runs")).absolute()
    where = (store or default_store()).absolute()
    where.mkdir(parents=True, exist_ok=True)
    server = LocalMlflowServer(where, port=choose_port(where, port))
    stop = threading.Event()
    with stop_on_signals(stop) as seen:
        server.start()
        try:
            (where / "ui.json").write_text(json.dumps({"port": server.port}))
            syncd = subprocess.Popen(
                [sys.executable, "-m", "syncer.cli", "syncd", str(root), "--to", server.uri],
                start_new_session=True)
            click.echo(f"MLflow UI at {server.uri}  (runs from {root}; store {where}; "
                       "Ctrl-C stops)", err=True)
            while not stop.wait(0.5) and syncd.poll() is None:
                pass
            code = syncd.poll()
            if code is None:
                syncd.send_signal(signal.SIGTERM)
                try:
                    code = syncd.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    syncd.kill()
                    code = syncd.wait()
        finally:
            with contextlib.suppress(Exception):
                server.stop()
    if not seen or code != 0:
        click.echo(f"runwal ui: syncd ended with status {code}", err=True)
        sys.exit(EXIT_PROBLEM)
