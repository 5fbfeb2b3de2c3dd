"""The SDK's half of online and hybrid modes: one `runwal follow` process per run.

The training process never makes an HTTP request and logwriter never imports
the syncer: the syncer runs as a separate process started by command line,
``python -m syncer.cli follow RUN_DIR --parent-pid PID --log-in-run ...``, in
its own session (``start_new_session``) so that Ctrl-C in the training
terminal does not kill it mid-batch, and so that it outlives a training
process killed with -9 long enough to send what that process left on disk.

The follower's stdout is a pipe that carries one line: ``ready <checkpoint>``
(the checkpoint file inside the run dir) once the server answered, or
``error: <message>``. Everything else it says goes to ``<run>/sync/follow.log``,
which it opens itself (the syncer owns sync/; the SDK writes nothing there).
Progress at finish() is read from that checkpoint as plain JSON: its ``seq``
is the highest seq the server acknowledged, ``finished`` says the EXIT got there.
A hybrid run's finish() also reads ``sync/follow.state``: while the follower
says the server is down, waiting would only cost the training its
``sync_timeout``, so finish() returns at once and the follower carries on.

The server URI is passed with ``--to`` unless it carries credentials, which
then travel in the child's environment (RUNWAL_SERVER), never on a command
line that ``ps`` shows.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from logwriter.errors import SyncStartError, SyncWarning
from logwriter.session.settings import Settings
from schema import follow_protocol as protocol
from schema.uri import public_uri

CATCH_UP_S = 3600.0  # hybrid: how long the follower keeps trying after training ended
PROGRESS_EVERY = 1.0  # at most one progress line per second at finish()
STOP_TIMEOUT = 5.0

# Followers whose run finished before they did (finish()'s bound passed): kept
# referenced so that dropping them neither kills them nor warns, reaped lazily.
_detached: list[subprocess.Popen[bytes]] = []


def follow_command(run_dir: str, server: str, *, until_seq: int,
                   wait_server: bool) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the follower of ``run_dir``."""
    cmd = [sys.executable]
    if sys.version_info >= (3, 11):
        cmd.append("-P")  # a ./syncer directory in the training's cwd must not shadow ours
    cmd += ["-m", "syncer.cli", "follow", run_dir, "--parent-pid", str(os.getpid()),
            "--until-seq", str(until_seq), "--log-in-run"]
    env = dict(os.environ)
    if public_uri(server) == server.rstrip("/"):
        cmd += ["--to", server]
    else:
        env["RUNWAL_SERVER"] = server
    if wait_server:
        cmd += ["--wait-server", "inf", "--catch-up", f"{CATCH_UP_S:g}"]
    return cmd, env


class SyncProcess:
    """Handle on one follower process, owned by the process that started it."""

    def __init__(self, proc: subprocess.Popen[bytes], run_dir: str, server: str):
        self.proc = proc
        self.pid = proc.pid
        self.run_dir = run_dir
        self.server = public_uri(server)
        self.owner = os.getpid()
        self.ready = False
        self.error: str | None = None
        self.checkpoint: str | None = None  # relative to run_dir, from the ready line
        self._out = b""

    @classmethod
    def start(cls, run_dir: str, server: str, *, until_seq: int,
              wait_server: bool) -> SyncProcess:
        """Spawn the follower; OSError when it cannot even be started."""
        _reap_detached()
        if not sys.executable:
            raise OSError("sys.executable is empty: no Python to start the syncer with")
        cmd, env = follow_command(run_dir, server, until_seq=until_seq, wait_server=wait_server)
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, close_fds=True,
        )
        return cls(proc, run_dir, server)

    # -- the ready line ------------------------------------------------------

    def read_ready(self, timeout: float) -> bool:
        """Read the ready channel for up to ``timeout`` s; True once it has been decided
        (a ready or error line, or the pipe closed)."""
        pipe = self.proc.stdout
        if pipe is None or pipe.closed:
            return True
        fd = pipe.fileno()
        end = time.monotonic() + timeout
        while True:
            readable, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not readable:
                return False
            chunk = os.read(fd, 4096)
            if not chunk or self._parse(chunk):
                self._close_pipe()
                return True

    def _parse(self, chunk: bytes) -> bool:
        self._out += chunk
        *lines, _ = self._out.decode("utf-8", "replace").split("\n")
        for line in lines:
            said = protocol.parse_line(line)
            if said is None:
                continue
            kind, value = said
            if kind == protocol.READY:
                self.ready = True
                self.checkpoint = value or None
            else:
                self.error = value
            return True
        return False

    def wait_ready(self, timeout: float) -> str | None:
        """Online init: None once the server answered, else why not (one line)."""
        decided = self.read_ready(timeout)
        if self.ready:
            return None
        if self.error:
            return self.error
        if not decided:
            return f"the syncer gave no answer within {timeout:g}s (RUNWAL_INIT_TIMEOUT)"
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(1.0)
        said = [ln.strip() for ln in self._out.decode("utf-8", "replace").splitlines()]
        said = [ln for ln in said if ln]
        return (f"the syncer process ended (status {self.proc.returncode}) before checking "
                f"the server" + (f": {said[-1]}" if said else ""))

    def _close_pipe(self) -> None:
        pipe = self.proc.stdout
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()

    # -- progress ------------------------------------------------------------

    def acked(self) -> tuple[int, bool]:
        """(highest acknowledged seq, EXIT acknowledged) from the checkpoint; (-1, False)
        before there is one."""
        if self.checkpoint is None:
            self.read_ready(0.0)
        if self.checkpoint is None:
            return -1, False
        return protocol.read_progress(Path(self.run_dir) / self.checkpoint)

    def last_words(self) -> str:
        """The last line of sync/follow.log (why it stopped), or what it printed."""
        try:
            with open(protocol.log_path(self.run_dir), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 4096))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            text = self._out.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            return ""
        last = lines[-1]
        return last.split("]: ", 1)[1] if "]: " in last else last

    # -- the end -------------------------------------------------------------

    def finish(self, timeout: float, last_seq: int, run_id: str,
               say: Callable[[str], None], *, not_when_down: bool = False) -> str | None:
        """Wait up to ``timeout`` s for the follower to deliver through ``last_seq`` and
        exit, saying progress at most once a second; with ``not_when_down`` (hybrid),
        not at all once the follower says the server is down. None when the server has
        it all, else a warning for the user. Never raises (KeyboardInterrupt excepted)."""
        t0 = time.monotonic()
        shown: int | None = None
        next_line = t0 + PROGRESS_EVERY
        try:
            while True:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(min(0.1, max(0.0, t0 + timeout - time.monotonic())))
                if self.proc.returncode is not None:
                    break
                now = time.monotonic()
                if now >= t0 + timeout:
                    return self._left_running(run_id)
                down = protocol.read_server_down(self.run_dir, self.pid) if not_when_down \
                    else None
                if down is not None:
                    return self._left_running(run_id, down)
                if now >= next_line:
                    next_line = now + PROGRESS_EVERY
                    seq, _ = self.acked()
                    if seq != shown:
                        shown = seq
                        say(self._progress(run_id, seq, last_seq))
        except KeyboardInterrupt:
            say(self._left_running(run_id))
            raise
        self.read_ready(0.0)  # hybrid: the ready line, or what a failed start printed
        self._close_pipe()
        seq, finished = self.acked()
        if finished and seq >= last_seq:
            if shown is not None:
                say(f"runwal: run {run_id} synced to {self.server}")
            return None
        why = self.last_words() or f"it exited with status {self.proc.returncode}"
        return (f"runwal: run {run_id} is not fully on {self.server} (the syncer stopped: "
                f"{why}); the run is safe on disk and {self.sync_hint()}")

    def _progress(self, run_id: str, seq: int, last_seq: int) -> str:
        if not self.ready:
            return (f"runwal: run {run_id}: waiting for the server {self.server} "
                    "(the run is safe on disk)")
        return (f"runwal: syncing run {run_id} to {self.server}: {seq + 1}/{last_seq + 1} "
                "records acknowledged")

    def _left_running(self, run_id: str, down: str | None = None) -> str:
        _detached.append(self.proc)
        self._close_pipe()
        why = f" (the server does not answer: {down})" if down else ""
        return (f"runwal: run {run_id} is not all on {self.server} yet{why}; the syncer keeps "
                f"trying in the background (pid {self.pid}, log {self.run_dir}/sync/follow.log); "
                f"if it gives up, {self.sync_hint()}")

    def sync_hint(self) -> str:
        return f"`runwal sync {self.run_dir} --to {self.server}` finishes the job"

    def stop(self) -> None:
        """SIGTERM (then SIGKILL) the follower and reap it: init failed."""
        self._close_pipe()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)

    def forget(self) -> None:
        """In a forked child (right after the fork): drop the parent's follower.

        Closes this process's copy of the pipe and marks the handle done, so that
        the child never waits for, signals or warns about a process it does not own.
        """
        self._close_pipe()
        self.proc.returncode = 0


def start_online(run_dir: str, settings: Settings, next_seq: int) -> SyncProcess:
    """Start the follower and wait (bounded) until it reached the server; called
    before the run directory exists, so a SyncStartError leaves nothing behind."""
    assert settings.server is not None  # settings.resolve checked it
    try:
        follower = SyncProcess.start(run_dir, settings.server, until_seq=next_seq,
                                  wait_server=False)
    except OSError as exc:
        raise SyncStartError(f"runwal: online mode cannot start the syncer process: {exc}",
                             hint="check the Python environment, or use mode='offline' and "
                                  "`runwal sync` later") from None
    why = follower.wait_ready(settings.init_timeout)
    if why is None:
        return follower
    follower.stop()
    message, _, their_hint = why.partition(" (hint: ")
    hint = SyncStartError.hint
    if their_hint and "runwal sync" not in their_hint:  # e.g. what to set for credentials
        hint = f"{their_hint.rstrip(')')}; or {hint}"
    raise SyncStartError(f"runwal: online mode: {message}", hint=hint)


def start_hybrid(run_dir: str, settings: Settings, next_seq: int) -> SyncProcess | None:
    """Start the follower without waiting for anything; if even that fails, warn and
    let the run go on offline (hybrid never fails on account of the server)."""
    assert settings.server is not None
    try:
        return SyncProcess.start(run_dir, settings.server, until_seq=next_seq, wait_server=True)
    except OSError as exc:
        warnings.warn(
            f"runwal: hybrid mode could not start the syncer process ({exc}); the run logs "
            f"locally only: `runwal sync {run_dir}` uploads it later",
            SyncWarning, stacklevel=6,  # the caller of logwriter.init()
        )
        return None


def _reap_detached() -> None:
    _detached[:] = [p for p in _detached if p.poll() is None]
