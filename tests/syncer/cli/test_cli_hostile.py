"""Every inspection command on every crafted run of tests/hostile.py.

The promise (issue 12): whatever a run directory holds, ``ls``, ``show``,
``show --json``, ``dump``, ``verify``, ``verify --json`` and ``export
--tensorboard`` end with exit status 0, 1 or 2, print at most one error line
on stderr (``runwal: note:`` lines aside) and never a traceback; and they
agree with each other about what the log holds. Regressions this caught:
tracebacks on a run.json ``created`` of NaN/inf/1e300/10**40, lone
surrogates in run.json, 1000-deep nesting (``dump``/``show`` recursed past
Python's limit where ``verify`` called the run clean), non-string map keys
(``show`` sorted them), a ``log/`` symlink loop or a ``log`` file, a
directory or a symlink named like a segment, and ``sync/`` checkpoints
holding ``1e999``.

In-process with click's CliRunner (the whole matrix runs in about a second),
plus a few real processes, where stdout is a real stream with its own
encoding and a traceback would reach the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hostile
from syncer.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = [("ls",), ("show",), ("show", "--json"), ("dump",), ("verify",), ("verify", "--json"),
            ("export",)]
# Built by a real SDK process: what they lose is lost at write time, not read time.
SDK_CASES = {name for name in hostile.CASES if name.startswith("sdk_")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    hostile.build_all(root)
    return root


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=True)


def args_for(command: tuple[str, ...], run: Path, out: Path) -> list[str]:
    if command == ("export",):
        return ["export", str(run), "--tensorboard", str(out / "tb")]
    return [*command, str(run)]


def check_one_line(result: Result, what: str) -> None:
    """Exit 0/1/2, no traceback, at most one error line on stderr."""
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"{what}: {type(exc).__name__}: {exc}")
    assert result.exit_code in (0, 1, 2), f"{what}: exit {result.exit_code}"
    text = result.stdout + result.stderr
    assert "Traceback" not in text, f"{what}: {text[-2000:]}"
    errors = [ln for ln in result.stderr.splitlines() if ln and not ln.startswith("runwal: note:")]
    assert len(errors) <= 1, f"{what}: stderr {errors[:5]}"
    assert all(ln.startswith("runwal: error: ") for ln in errors), f"{what}: {errors}"
    if result.exit_code == 2:
        assert errors, f"{what}: exit 2 without saying why"


@pytest.mark.parametrize("case", sorted(hostile.CASES))
def test_every_command_ends_with_one_line_and_a_status(runs: Path, case: str,
                                                        tmp_path: Path) -> None:
    run = runs / case
    for command in COMMANDS:
        result = invoke(args_for(command, run, tmp_path))
        check_one_line(result, f"{case}: runwal {' '.join(command)}")
        if "--json" in command and result.exit_code in (0, 1):
            json.loads(result.stdout)  # strict JSON, whatever the run holds


def readable(runs: Path, case: str) -> tuple[dict[str, Any], dict[str, Any], list[Any]] | None:
    """(verify --json, show --json, dump lines), or None when the run is refused (exit 2)."""
    verify, show, dump = (invoke([*c, str(runs / case)])
                          for c in (("verify", "--json"), ("show", "--json"), ("dump",)))
    codes = {verify.exit_code, show.exit_code, dump.exit_code}
    if 2 in codes:
        assert codes == {2}, f"{case}: refused by some commands only ({codes})"
        return None
    return (json.loads(verify.stdout), json.loads(show.stdout),
            [json.loads(ln) for ln in dump.stdout.splitlines()])


@pytest.mark.parametrize("case", sorted(hostile.CASES))
def test_verify_show_and_dump_agree_on_what_the_log_holds(runs: Path, case: str) -> None:
    got = readable(runs, case)
    if got is None:
        return
    report, shown, lines = got
    assert len(lines) == report["records"] == shown["counts"]["records"]
    assert report["damage"] == shown["damage"]
    assert report["last_seq"] == shown["last_seq"]
    seqs = [ln["seq"] for ln in lines]
    assert seqs == sorted(set(seqs)), "dump: seqs out of order or repeated"
    # No two damage reports cover the same seq.
    lost: set[int] = set()
    for d in report["damage"]:
        if d["first_lost"] is not None and d["last_lost"] is not None:
            span = set(range(d["first_lost"], d["last_lost"] + 1))
            assert not (span & lost), f"{case}: seqs reported lost twice"
            lost |= span
    assert not (lost & set(seqs)), f"{case}: a seq both read and reported lost"


@pytest.mark.parametrize("case", sorted(hostile.NEIGHBOURS - SDK_CASES))
def test_a_hostile_record_never_costs_its_neighbours(runs: Path, case: str) -> None:
    result = invoke(["show", "--json", str(runs / case)])
    assert result.exit_code == 0
    ok = json.loads(result.stdout)["metrics"][hostile.NEIGHBOUR_KEY]
    assert ok["count"] == 10, f"{case}: {ok['count']} of the 10 good rows shown"


@pytest.mark.parametrize("case", ["deep_nesting", "deep_nesting_100k", "type_bool",
                                  "invalid_utf8", "array_map_key"])
def test_a_malformed_record_is_damage_everywhere(runs: Path, case: str) -> None:
    # Was: verify called 1000-deep nesting clean while dump crashed on it.
    report, shown, lines = readable(runs, case) or pytest.fail("refused")
    assert report["status"] == "damaged" and report["lost_records"] >= 1
    assert any("malformed record" in d["reason"] for d in shown["damage"])
    assert {ln["seq"] for ln in lines}.isdisjoint(
        range(report["damage"][0]["first_lost"], report["damage"][0]["last_lost"] + 1))


def test_dump_spells_ext_bin_and_odd_keys_as_json(runs: Path) -> None:
    out = invoke(["dump", str(runs / "ext_and_bin"), "--type", "history"]).stdout
    (row,) = [json.loads(ln)["data"] for ln in out.splitlines() if '"ext"' in ln]
    assert row["ext"] == {"$ext": 5, "base64": "AAE="}
    assert row["bin"] == "base64:AP8="
    assert row["ts_ext"]["$ext"] == -1
    out = invoke(["dump", str(runs / "nonstr_keys"), "--type", "config"]).stdout
    (cfg,) = [json.loads(ln)["data"] for ln in out.splitlines() if '"fine"' in ln]
    assert set(cfg) == {"1", "-7", "2.5", "base64:Ymlu", "null", "false", "fine"}


# A few through a real process: a real stdout (its own encoding, a pipe), and the
# interpreter's own traceback printing if anything escaped.
PROCESS_CASES = ["runjson_surrogates", "deep_nesting_100k", "log_symlink_loop",
                 "segment_is_dir", "runjson_created_huge"]


@pytest.mark.parametrize("case", PROCESS_CASES)
def test_real_processes_print_no_traceback(runs: Path, case: str, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONIOENCODING="utf-8")
    for command in (("show",), ("dump",), ("verify", "--json"), ("ls",)):
        proc = subprocess.run([sys.executable, "-m", "syncer.cli", *command, str(runs / case)],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
        assert proc.returncode in (0, 1, 2), (case, command, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (case, command, proc.stderr[-2000:])
        errors = [ln for ln in proc.stderr.splitlines()
                  if ln and not ln.startswith("runwal: note:")]
        assert len(errors) <= 1, (case, command, errors[:5])


def test_text_output_never_drives_the_terminal(tmp_path: Path) -> None:
    rd = hostile.make_dir(tmp_path, "escapes", run_json=hostile.ident(
        tmp_path, "escapes", name="\x1b[2J\x1b]0;owned\x07", project="p\x00q"))
    hostile.write_segment(rd, hostile.around([hostile.history(50, **{"k\x1b[31m": 1.0})]))
    for command in (("show",), ("ls",), ("verify",)):
        result = invoke([*command, str(rd)])
        assert result.exit_code == 0
        assert not any(c in result.stdout for c in "\x1b\x00\x07"), command
    assert "\\x1b[2J" in invoke(["show", str(rd)]).stdout
