"""Contract between use_artifact() and its lookup process (schema.artifact_protocol).

The SDK (logwriter.artifacts.remote) runs ``python -m syncer.cli artifact get ...
--json`` and never imports the syncer; the two halves agree only through
schema.artifact_protocol. These tests pin the lines both ways, that every option
the SDK passes exists on the command, and that the real child answers a closed
port with one error line the SDK's parser reads (the server side:
tests/syncer/cli/test_artifact_cli.py).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema import artifact_protocol as protocol

MANIFEST = {"name": "data", "type": "dataset", "version": 2, "digest": "ab" * 32,
            "aliases": ["best", "latest"], "description": None, "metadata": {"k": 1},
            "entries": [{"path": "a.txt", "size": 5, "sha256": "cd" * 32},
                        {"path": "x", "ref": "s3://bucket/x"}]}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the lines -----------------------------------------------------------------


def test_found_line_round_trips() -> None:
    line = protocol.found_line("data", 2, MANIFEST, source_run="abc123", server_run="f00",
                               where="http://h:5000/api/x", into="/tmp/d", files=["a.txt"])
    assert "\n" not in line
    assert protocol.parse_line(line) == protocol.Answer(
        protocol.FOUND, name="data", version=2, manifest=MANIFEST, source_run="abc123",
        server_run="f00", where="http://h:5000/api/x", into="/tmp/d", files=["a.txt"])
    unknown = protocol.parse_line(protocol.found_line(
        "data", 0, MANIFEST, source_run=None, server_run="f00", where="w"))
    assert unknown is not None and unknown.source_run is None and unknown.files == []


def test_not_found_and_error_lines_are_one_line_and_round_trip() -> None:
    answer = protocol.parse_line(protocol.not_found_line("data", "best", "no\n'best'  there"))
    assert answer == protocol.Answer(protocol.NOT_FOUND, name="data", spec="best",
                                     message="no 'best' there")
    line = protocol.error_line("cannot reach\nthe  server", "start\tit")
    assert "\n" not in line
    assert protocol.parse_line(line) == protocol.Answer(
        protocol.ERROR, message="cannot reach the server", hint="start it")


@given(st.text(), st.text())
def test_any_error_message_survives_the_line(message: str, hint: str) -> None:
    answer = protocol.parse_line(protocol.error_line(message, hint))
    assert answer is not None and answer.status == protocol.ERROR
    assert (answer.message, answer.hint) == (" ".join(message.split()), " ".join(hint.split()))


def test_other_lines_are_no_answer() -> None:
    for line in ("", "Traceback (most recent call last):", "[1, 2]", '{"status": "maybe"}',
                 '{"status": "found", "version": "2", "manifest": {}, "files": []}',
                 '{"status": "found", "version": true, "manifest": {}, "files": []}',
                 '{"status": "found", "version": 1, "manifest": [], "files": []}',
                 '{"status": "found", "version": 1, "manifest": {}, "files": [3]}',
                 '{"status": "error", "message": 3}'):
        assert protocol.parse_line(line) is None, line


def test_the_answer_is_the_last_answer_line_of_stdout() -> None:
    out = "a warning\n" + protocol.error_line("late") + "\n\n"
    assert protocol.parse_answer(out) == protocol.Answer(protocol.ERROR, message="late")
    assert protocol.parse_answer("nothing here\n") is None


# -- the command ---------------------------------------------------------------


def test_command_keeps_credentials_off_the_command_line() -> None:
    cmd, env = protocol.command("data:best", "p", "http://h:5000/", env={"A": "1"})
    assert cmd[0] == sys.executable and cmd[cmd.index("-m") + 1] == protocol.MODULE
    assert cmd[cmd.index("--to") + 1] == "http://h:5000/" and env == {"A": "1"}
    cmd, env = protocol.command("data:best", "p", "http://u:secret@h:5000", env={})
    assert "--to" not in cmd and not any("secret" in arg for arg in cmd)
    assert env == {protocol.SERVER_ENV: "http://u:secret@h:5000"}


@pytest.mark.parametrize("download", [False, True])
def test_command_is_what_the_child_accepts(tmp_path: Path, download: bool) -> None:
    """Every option the SDK passes exists on `runwal artifact get` (click rejects an
    unknown one with exit status 2 before the command prints its answer)."""
    from syncer.cli.artifact import get

    cmd, _ = protocol.command("data:v2", "proj", "http://127.0.0.1:1", deadline=2.5,
                              server_run="f00" if download else None,
                              into=str(tmp_path) if download else None,
                              paths=["a.txt", "d/b"])  # ignored without into
    args = cmd[cmd.index("get") + 1:]
    ctx = get.make_context("get", list(args))  # parses, raises on an unknown option
    assert ctx.params["asked"] == "data:v2" and ctx.params["project"] == "proj"
    assert ctx.params["as_json"] is True and ctx.params["deadline"] == 2.5
    assert ctx.params["to"] == "http://127.0.0.1:1"
    if download:
        assert ctx.params["server_run"] == "f00" and ctx.params["into"] == tmp_path
        assert ctx.params["paths"] == ("a.txt", "d/b")
    else:
        assert ctx.params["server_run"] is None and ctx.params["into"] is None
        assert ctx.params["paths"] == ()


def test_a_closed_port_is_one_error_answer(tmp_path: Path) -> None:
    cmd, env = protocol.command("data", "p", f"http://127.0.0.1:{_closed_port()}",
                                deadline=0.5, into=str(tmp_path / "dl"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    answer = protocol.parse_answer(proc.stdout)
    assert answer is not None and answer.status == protocol.ERROR
    assert "127.0.0.1" in answer.message and answer.hint
    assert not (tmp_path / "dl").exists()
