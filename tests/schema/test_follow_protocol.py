"""Contract between the SDK and its follower process (schema.follow_protocol).

The SDK (logwriter.session.syncproc) starts ``python -m syncer.cli follow ...`` and
never imports the syncer; the two halves agree only through
schema.follow_protocol. These tests start the real follower exactly as the
SDK does (``SyncProcess.start``, hence ``follow_command``) and read its answers
with the SDK's own parser: an ``error:`` line against a closed port, and
``ready <checkpoint>`` against a real MLflow server, with a checkpoint that
the SDK can read progress from once a tiny run has finished.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import logwriter
from logwriter.session.syncproc import SyncProcess
from logwriter_util import QUIET, read_clean
from schema import follow_protocol as protocol


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reap(follower: SyncProcess) -> None:
    follower.stop()  # SIGTERM/SIGKILL if still running, and waited for


# -- the lines -----------------------------------------------------------------


def test_ready_line_round_trips() -> None:
    line = protocol.ready_line("sync/mlflow-abc.json")
    assert line.startswith(protocol.READY + " ")
    assert protocol.parse_line(line) == (protocol.READY, "sync/mlflow-abc.json")


def test_error_line_is_one_line_and_round_trips() -> None:
    line = protocol.error_line("cannot reach\nthe  server\t(hint: start it)")
    assert "\n" not in line and line.startswith(protocol.ERROR)
    assert protocol.parse_line(line) == ("error", "cannot reach the server (hint: start it)")


def test_other_lines_are_not_protocol() -> None:
    for line in ("", "Traceback (most recent call last):", " ready x", "warning: slow"):
        assert protocol.parse_line(line) is None


@given(st.text())
def test_any_error_message_survives_the_line(message: str) -> None:
    kind, said = protocol.parse_line(protocol.error_line(message)) or ("", "")
    assert kind == "error" and said == " ".join(message.split())


def test_progress_reads_the_checkpoint_keys(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.json"
    assert protocol.read_progress(ckpt) == (-1, False)  # none yet
    ckpt.write_text(json.dumps({protocol.CKPT_SEQ: 41, protocol.CKPT_FINISHED: True}))
    assert protocol.read_progress(ckpt) == (41, True)
    ckpt.write_text("{torn")
    assert protocol.read_progress(ckpt) == (-1, False)


# -- the real follower ---------------------------------------------------------


def test_closed_port_answers_with_an_error_line(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    run_dir = tmp_path / "runs" / "r-closed"  # online: started before the run dir exists
    follower = SyncProcess.start(str(run_dir), uri, until_seq=0, wait_server=False)
    try:
        why = follower.wait_ready(60.0)
    finally:
        _reap(follower)
    assert not follower.ready and follower.checkpoint is None
    assert follower.error is not None and why == follower.error  # from the error: line
    assert "\n" not in why and "127.0.0.1" in why
    assert not run_dir.exists()  # the follower created nothing


def test_ready_names_a_checkpoint_the_sdk_reads(tmp_path: Path, mlflow_uri: str) -> None:
    root = tmp_path / "runs"
    run_dir = root / "r-ready"
    follower = SyncProcess.start(str(run_dir), mlflow_uri, until_seq=0, wait_server=False)
    try:
        assert follower.wait_ready(60.0) is None
        assert follower.ready and follower.error is None
        ckpt = follower.checkpoint
        assert ckpt is not None and not Path(ckpt).is_absolute() and ".." not in Path(ckpt).parts

        run = logwriter.init(project="protocol", id="r-ready", dir=root, mode="offline",
                             **QUIET)
        for i in range(5):
            run.log({"x": float(i)})
        run.finish()
        last_seq = read_clean(run.run_dir)[-1].seq
        assert follower.finish(60.0, last_seq, run.id, lambda line: None) is None
    finally:
        _reap(follower)
    assert follower.proc.returncode == 0
    path = run_dir / ckpt
    assert path.is_file() and path.resolve().is_relative_to(run_dir.resolve())
    data = json.loads(path.read_text())
    assert data[protocol.CKPT_SEQ] == last_seq and data[protocol.CKPT_FINISHED] is True
    assert follower.acked() == (last_seq, True)
    assert protocol.log_path(run_dir).is_file()  # its messages went to sync/follow.log


@pytest.mark.parametrize("wait_server", [False, True])
def test_follow_command_is_what_the_follower_accepts(tmp_path: Path, wait_server: bool) -> None:
    """Every option the SDK passes exists on `runwal follow` (click rejects unknown ones
    with exit status 2 before saying anything on the ready channel)."""
    from logwriter.session.syncproc import follow_command
    from syncer.cli.follow import follow

    cmd, _ = follow_command(str(tmp_path / "r"), "http://127.0.0.1:1", until_seq=3,
                            wait_server=wait_server)
    args = cmd[cmd.index("follow") + 1:]
    ctx = follow.make_context("follow", list(args))  # parses, raises on an unknown option
    assert ctx.params["until_seq"] == 3 and ctx.params["log_in_run"] is True
    assert ctx.params["wait_server"] == (float("inf") if wait_server else 0.0)
