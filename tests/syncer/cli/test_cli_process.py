"""The installed `runwal` script as a real process: exit codes, no tracebacks, pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbuilder import build_run, frame_offsets, segment_path, typical_records

RUNWAL = Path(sys.executable).parent / "runwal"

pytestmark = pytest.mark.skipif(not RUNWAL.exists(), reason="runwal script not installed")


def runwal(*args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUNWAL), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_bad_dirs_exit_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for args in (("ls", tmp_path / "missing"), ("ls", tmp_path / "file"),
                 ("show", tmp_path), ("dump", tmp_path / "missing"), ("verify", tmp_path),
                 ("export", tmp_path, "--tensorboard", tmp_path / "tb")):
        proc = runwal(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.startswith("runwal: error: ") and proc.stderr.count("\n") == 1, args
        assert "Traceback" not in proc.stderr


def test_verify_exit_codes_clean_then_damaged(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(20), records_per_frame=4)
    proc = runwal("verify", run)
    assert (proc.returncode, proc.stdout.splitlines()[-1]) == (0, "clean")
    _, off, _ = frame_offsets(run)[1]
    seg = segment_path(run)
    raw = bytearray(seg.read_bytes())
    raw[off + 21] ^= 0xFF
    seg.write_bytes(bytes(raw))
    proc = runwal("verify", run, "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["status"] == "damaged" and report["damage"][0]["offset"] == off


def test_dump_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    run = build_run(tmp_path, typical_records(20_000))
    dump = subprocess.Popen([str(RUNWAL), "dump", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert dump.stdout is not None and dump.stderr is not None
    first = dump.stdout.readline()
    dump.stdout.close()  # like `| head -1`
    err = dump.stderr.read().decode()
    dump.stderr.close()
    assert dump.wait(timeout=60) == 0
    assert json.loads(first)["seq"] == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_ls_json_and_help_from_the_script(tmp_path: Path) -> None:
    build_run(tmp_path, typical_records(3))
    proc = runwal("ls", tmp_path, "--json")
    assert proc.returncode == 0
    assert [r["run_id"] for r in json.loads(proc.stdout)] == ["abc12345"]
    proc = runwal("--help")
    assert proc.returncode == 0
    for cmd in ("ls", "show", "dump", "verify", "export", "sync"):
        assert f"  {cmd}" in proc.stdout


SDK_SCRIPT = """
import logwriter
run = logwriter.init(project="p", name="from-sdk", config={"lr": 0.5})
for i in range(50):
    logwriter.log({"loss": 1.0 / (i + 1), "flag": i % 2 == 0})
print("a line")
logwriter.finish()
"""


def test_show_and_verify_a_run_written_by_the_sdk(tmp_path: Path) -> None:
    env = {"RUNWAL_DIR": str(tmp_path), "RUNWAL_MODE": "offline", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", SDK_SCRIPT], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    (run,) = [p for p in tmp_path.iterdir() if (p / "log").is_dir()]
    proc = runwal("show", run, "--json")
    assert proc.returncode == 0, proc.stderr
    view = json.loads(proc.stdout)
    assert view["status"] == "finished" and view["exit_code"] == 0
    assert view["identity"]["name"] == "from-sdk" and view["config"]["lr"] == 0.5
    loss = view["metrics"]["loss"]
    assert (loss["count"], loss["max"], loss["last"]) == (50, 1.0, 1.0 / 50)
    assert view["metrics"]["flag"]["max"] == 1.0
    assert view["console_lines"].get("stdout") == 1
    assert view["damage"] == [] and view["counts"]["unknown_types"] == {}
    assert runwal("verify", run).returncode == 0
