"""``runwal follow RUN_DIR --to URI``: tail one live run into MLflow (online/hybrid modes).

The SDK starts this command as a separate process (logwriter never imports
the syncer and never makes an HTTP request) in its own session, so Ctrl-C in
the training terminal does not kill it mid-batch. The logic is in
`syncer.follow`; this module is the glue: options, signals, where output
goes, and which server (`syncer.sinks.mlflow.connect`).

The ready channel: the first line on stdout is ``ready <checkpoint>`` (the
checkpoint file's path inside RUN_DIR) once the server answered. With
``--log-in-run`` (how the SDK starts it) stdout carries that line and
nothing else, or ``error: <message>`` when the server check failed; every
other message goes to ``RUN_DIR/sync/follow.log`` (the syncer owns sync/),
opened as soon as the run directory exists, /dev/null before.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

from schema import follow_protocol as protocol
from schema.atomic import make_dirs
from schema.layout import run_created
from syncer.cli.common import open_run, user_errors
from syncer.errors import EXIT_PROBLEM
from syncer.follow import Follower, FollowOptions
from syncer.sinks.mlflow.connect import open_server, server_uri


class Output:
    """The ready channel and the message stream of one follower process."""

    def __init__(self, run_dir: Path, in_run: bool):
        self.run_dir = run_dir
        self.in_run = in_run
        self.logging_in_run = False
        self._ready_fd: int | None = None
        if in_run:
            self._ready_fd = os.dup(1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.close(null)

    def ready(self, line: str) -> None:
        """Write the one ready/error line; later calls do nothing."""
        if not self.in_run:
            click.echo(line)
            sys.stdout.flush()
            return
        fd, self._ready_fd = self._ready_fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):  # nobody reads any more (hybrid, or the SDK died)
            os.write(fd, (line.replace("\n", " ") + "\n").encode())
        os.close(fd)

    def fail(self, message: str) -> None:
        if self.in_run:
            self.ready(protocol.error_line(message))

    def to_run_log(self) -> None:
        """Send stdout/stderr to RUN_DIR/sync/follow.log (once run.json exists)."""
        if not self.in_run or self.logging_in_run:
            return
        log = protocol.log_path(self.run_dir)
        try:
            make_dirs(log.parent, parents=False)  # sync/, durably: checkpoints live there
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:
            return  # read-only run dir: the pass will fail and say so (to /dev/null)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        self.logging_in_run = True

    def say(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{stamp} runwal follow[{os.getpid()}]: {message}", err=True)


class Seconds(click.ParamType):
    """A number of seconds >= 0, or 'inf'."""

    name = "seconds"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            out = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds (or 'inf')", param, ctx)
        if math.isnan(out) or out < 0:
            self.fail(f"{value!r} must be >= 0", param, ctx)
        return out


@click.command("follow")
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@click.option("--to", "to", metavar="URI",
              help="MLflow tracking URI (default: $RUNWAL_SERVER, then $MLFLOW_TRACKING_URI).")
@click.option("--parent-pid", type=click.IntRange(min=1), metavar="PID",
              help="The training process: when it dies without an exit record, sync what is "
                   "on disk and exit. RUN_DIR may appear later while PID lives.")
@click.option("--wait-server", default="0", show_default=True, type=Seconds(), metavar="SECONDS",
              help="Keep retrying the first contact with the server this long; 0: one try "
                   "within --connect-timeout; 'inf': until it answers (bounded by --catch-up).")
@click.option("--catch-up", default="3600", show_default=True, type=Seconds(), metavar="SECONDS",
              help="After PID ended, give up when the server still has not taken the run.")
@click.option("--grace", default=2.0, show_default=True, type=click.FloatRange(min=0),
              metavar="SECONDS", help="After PID ended, wait this long for its last frames.")
@click.option("--until-seq", default=0, show_default=True, type=click.IntRange(min=0),
              metavar="N", help="Ignore an already-synced exit record below seq N (the SDK "
                                "passes a resumed run's first new seq).")
@click.option("--log-in-run", is_flag=True,
              help="Messages to RUN_DIR/sync/follow.log; stdout carries only the ready or "
                   "error line (how the SDK starts this command).")
@click.option("--connect-timeout", default=5.0, show_default=True, type=float,
              help="Seconds one contact attempt with the server may take.")
@click.option("--deadline", default=120.0, show_default=True, type=float,
              help="Seconds a failing request is retried before the pass is retried.")
@click.option("--poll-interval", default=0.5, show_default=True,
              type=click.FloatRange(min=0.01), help="Seconds between polls of the live log.")
@user_errors
def follow(
    run_dir: Path,
    to: str | None,
    parent_pid: int | None,
    wait_server: float,
    catch_up: float,
    grace: float,
    until_seq: int,
    log_in_run: bool,
    connect_timeout: float,
    deadline: float,
    poll_interval: float,
) -> None:
    """Tail RUN_DIR into MLflow until its exit record is acknowledged.

    What the SDK runs in online and hybrid modes; usable by hand to follow a
    run that is still being written. Prints `ready <checkpoint>` on stdout
    once the server answered. SIGTERM or Ctrl-C stops it after the batch in
    flight; `runwal sync RUN_DIR` resumes from the checkpoint.

    \b
    Exit status: 0 the run's exit record is on the server; or PID ended
                   without one and what it left is on the server; or stopped
                   by a signal
                 1 the server cannot be reached (first contact, or --catch-up
                   passed) or refused the run for good
                 2 usage error
    """
    out = Output(run_dir, log_in_run)
    try:
        uri = server_uri(to)
        opts = FollowOptions(
            parent_pid=parent_pid, wait_server=wait_server, catch_up=catch_up,
            grace=grace, until_seq=until_seq, connect_timeout=connect_timeout,
            poll_interval=poll_interval,
        )
        if parent_pid is None or run_dir.exists():
            open_run(run_dir)  # without a parent to wait for, RUN_DIR must be a run now
        if run_created(run_dir):
            out.to_run_log()
    except Exception as exc:
        out.fail(str(exc))
        raise
    abort = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: abort.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with open_server(uri, workers=1, connect_timeout=connect_timeout, deadline=deadline,
                         stop=abort) as server:
            follower = Follower(run_dir, server, opts, abort=abort, say=out.say)
            try:
                code = follower.run(out.ready, out.to_run_log)
            except Exception as exc:
                out.fail(str(exc))
                raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code:
        sys.exit(EXIT_PROBLEM)


if __name__ == "__main__":
    follow()
