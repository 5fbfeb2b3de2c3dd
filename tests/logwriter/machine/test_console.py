"""ConsoleCapture: output passes through unchanged and is teed to emit, safely."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from logwriter.machine.console import ConsoleCapture


class FakeStream:
    """Stands in for a terminal stream, with attributes a wrapper must forward."""

    encoding = "fake-8"
    errors = "strict"
    line_buffering = True

    def __init__(self) -> None:
        self.text = ""
        self.flushes = 0

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        self.flushes += 1

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 42


class Recorder:
    def __init__(self) -> None:
        self.chunks: list[tuple[str, str]] = []

    def __call__(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text))

    def joined(self, stream: str) -> str:
        return "".join(t for s, t in self.chunks if s == stream)


@contextlib.contextmanager
def fake_streams() -> Iterator[tuple[FakeStream, FakeStream]]:
    """Fake originals for one block of a test body.

    A context manager, not a fixture: pytest re-installs its own capture
    streams when each test phase starts, which would undo a fixture's swap.
    """
    out, err = FakeStream(), FakeStream()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved


def test_tees_and_forwards_attributes() -> None:
    rec = Recorder()
    cap = ConsoleCapture(rec)
    with fake_streams() as (out, err):
        cap.start()
        try:
            assert sys.stdout is not out
            print("loss", 0.5)
            print("warn", file=sys.stderr)
            sys.stdout.writelines(["a\n", "b\n"])
            sys.stdout.flush()
            forwarded = (
                sys.stdout.isatty(),
                sys.stdout.fileno(),
                sys.stdout.encoding,
                sys.stdout.line_buffering,
            )
        finally:
            cap.stop()
        restored = sys.stdout is out and sys.stderr is err
        print("after stop")
    assert forwarded == (True, 42, "fake-8", True)
    assert restored
    assert out.text == "loss 0.5\na\nb\nafter stop\n"
    assert err.text == "warn\n"
    assert out.flushes == 1
    assert rec.joined("stdout") == "loss 0.5\na\nb\n"
    assert rec.joined("stderr") == "warn\n"


def test_emit_raising_never_breaks_print() -> None:
    def broken(stream: str, text: str) -> None:
        raise RuntimeError("writer queue closed")

    cap = ConsoleCapture(broken)
    with fake_streams() as (out, _):
        cap.start()
        print("still shown")
        cap.stop()
    assert out.text == "still shown\n"
    assert cap.errors == 2  # "still shown" and "\n"


def test_emit_that_prints_does_not_recurse() -> None:
    rec = Recorder()

    def chatty(stream: str, text: str) -> None:
        print(f"[emit saw {text!r}]", file=sys.stderr)  # shown, not captured again
        rec(stream, text)

    cap = ConsoleCapture(chatty)
    with fake_streams() as (out, err):
        cap.start()
        sys.stdout.write("x")
        cap.stop()
    assert out.text == "x"
    assert err.text == "[emit saw 'x']\n"
    assert rec.chunks == [("stdout", "x")]


def test_original_stream_errors_propagate_as_without_capture() -> None:
    rec = Recorder()

    def closed_pipe(text: str) -> int:
        raise BrokenPipeError("reader went away")

    cap = ConsoleCapture(rec)
    with fake_streams() as (out, _):
        out.write = closed_pipe  # type: ignore[method-assign]
        cap.start()
        try:
            with pytest.raises(BrokenPipeError):
                sys.stdout.write("lost")
        finally:
            cap.stop()
    assert rec.chunks == []  # what the user never saw is not recorded either


def test_stop_leaves_a_later_wrapper_in_place() -> None:
    rec = Recorder()
    cap = ConsoleCapture(rec)
    theirs = FakeStream()
    with fake_streams() as (out, err):
        cap.start()
        ours = sys.stdout
        sys.stdout = theirs  # another tool wrapped after us
        cap.stop()
        cap.stop()  # idempotent
        after = sys.stdout, sys.stderr
    assert after[0] is theirs  # not clobbered
    assert after[1] is err  # still ours at stop time: restored
    ours.write("late")  # our wrapper left in someone's chain is a pass-through now
    assert out.text == "late"
    assert rec.chunks == []


def test_start_twice_is_one_wrapper_and_restart_works() -> None:
    rec = Recorder()
    cap = ConsoleCapture(rec)
    with fake_streams() as (out, _):
        cap.start()
        first = sys.stdout
        cap.start()
        second = sys.stdout
        active = cap.active
        cap.stop()
        between = sys.stdout, cap.active
        cap.start()
        sys.stdout.write("again")
        cap.stop()
        final = sys.stdout
    assert second is first and active
    assert between == (out, False)
    assert final is out
    assert rec.chunks == [("stdout", "again")]


def test_writes_from_many_threads_are_all_emitted() -> None:
    rec = Recorder()
    lock = threading.Lock()

    def emit(stream: str, text: str) -> None:
        with lock:
            rec(stream, text)

    def worker(n: int) -> None:
        for i in range(50):
            sys.stdout.write(f"{n}:{i}\n")

    cap = ConsoleCapture(emit)
    with fake_streams() as (out, _):
        cap.start()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cap.stop()
    expected = sorted(f"{n}:{i}\n" for n in range(4) for i in range(50))
    assert sorted(t for _, t in rec.chunks) == expected
    assert sorted(out.text.splitlines(keepends=True)) == expected


CHILD = r"""
import json, os, sys
from logwriter.machine.console import ConsoleCapture

got = []
cap = ConsoleCapture(lambda stream, text: got.append([stream, text]))
cap.start()
print("hello", 1)
print("to err", file=sys.stderr)
sys.stdout.write("no newline")
sys.stdout.flush()
info = {"isatty": sys.stdout.isatty(), "fileno": sys.stdout.fileno(),
        "encoding": sys.stdout.encoding}
if hasattr(os, "fork"):
    pid = os.fork()
    if pid == 0:
        print("\nfrom forked child")
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)
cap.stop()
info["restored"] = sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__
sys.stdout.write("\nafter stop\n")
with open(sys.argv[1], "w") as f:
    json.dump({"got": got, "info": info}, f)
"""


def test_real_process_output_passes_through_unchanged(tmp_path: Path) -> None:
    out_file = tmp_path / "captured.json"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(out_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    forked = "\nfrom forked child\n" if hasattr(os, "fork") else ""
    expected_stdout = f"hello 1\nno newline{forked}\nafter stop\n"
    assert proc.stdout == expected_stdout
    assert proc.stderr == "to err\n"
    result = json.loads(out_file.read_text())
    got = result["got"]
    assert "".join(t for s, t in got if s == "stdout") == "hello 1\nno newline"
    assert "".join(t for s, t in got if s == "stderr") == "to err\n"
    assert all("forked child" not in t for _, t in got)  # children only pass through
    info = result["info"]
    assert info["isatty"] is False  # a pipe, as it would be without capture
    assert info["fileno"] == 1
    assert info["restored"] is True
