"""Contract between ``runwal import`` and the SDK's importer process (schema.import_protocol).

The syncer's command starts ``python -m logwriter.importers`` and never imports logwriter;
the two halves agree only through schema.import_protocol. These tests pin the lines (built
and parsed back, strangers refused), then start the real importer exactly as the command
does (`syncer.cli.importcmd.importer_command`) and read its stdout with the parser alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from importsources import write_scalars
from schema import import_protocol as protocol
from schema.import_protocol import Event, ImportResult
from syncer.cli.importcmd import importer_command

# -- the lines -----------------------------------------------------------------


def test_every_line_round_trips() -> None:
    res = ImportResult(source="logs/a", kind="tensorboard", run_id="tb-1", run_dir="r/tb-1",
                       status=protocol.APPENDED, reason="2 damaged regions skipped",
                       records=9, points=7, counts={"scalars": 7, "damaged": 2},
                       notes=["x: torn"], seconds=0.5)
    assert protocol.parse_line(protocol.started_line(0, 3, "logs/a", "wandb")) == Event(
        protocol.STARTED, index=0, total=3, source="logs/a", kind="wandb")
    assert protocol.parse_line(protocol.progress_line(2, 4096)) == Event(
        protocol.PROGRESS, index=2, points=4096)
    assert protocol.parse_line(protocol.result_line(1, res)) == Event(
        protocol.RESULT, index=1, source="logs/a", kind="tensorboard", points=7, result=res)
    assert protocol.parse_line(protocol.done_line(3, 1)) == Event(protocol.DONE, total=3,
                                                                  failed=1)


def test_the_json_report_has_no_protocol_only_field() -> None:
    res = ImportResult(source="a", kind="wandb", status=protocol.FAILED,
                       error=protocol.MISSING_EXTRA)
    assert "error" not in res.to_json()
    parsed = protocol.parse_line(protocol.result_line(0, res))
    assert parsed is not None and parsed.result is not None
    assert parsed.result.error == protocol.MISSING_EXTRA


def test_other_lines_are_not_protocol() -> None:
    for line in ("", "Traceback (most recent call last):", "[]", "7", '{"event": "over"}',
                 '{"event": "done", "total": "3", "failed": 0}',
                 '{"event": "done", "total": true, "failed": 0}',
                 '{"event": "progress", "points": 3}',
                 '{"event": "result", "index": 0, "source": "a"}',
                 '{"event": "result", "index": 0, "source": "a", "kind": "k", "counts": [1]}',
                 '{"event": "started", "index": 0, "total": 1, "source": 5, "kind": "k"}'):
        assert protocol.parse_line(line) is None, line


@given(st.text(), st.lists(st.text(), max_size=3))
def test_any_reason_and_notes_survive_the_line(reason: str, notes: list[str]) -> None:
    res = ImportResult(source=reason, kind="tensorboard", reason=reason, notes=notes)
    line = protocol.result_line(0, res)
    assert "\n" not in line
    parsed = protocol.parse_line(line)
    assert parsed is not None and parsed.result == res


# -- the real importer, started as the command starts it -------------------------


def _run(cmd: list[str]) -> tuple[list[Event], subprocess.CompletedProcess[str]]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    events = [protocol.parse_line(line) for line in lines]
    assert all(ev is not None for ev in events), proc.stdout  # stdout is the protocol only
    return [ev for ev in events if ev is not None], proc


def test_the_importer_process_speaks_the_protocol(tmp_path: Path) -> None:
    write_scalars(tmp_path / "logs" / "a", 5000)  # > one progress tick of records
    runs = tmp_path / "runs"
    cmd = importer_command("tensorboard", (str(tmp_path / "logs"), str(tmp_path / "nope")),
                           str(runs))
    events, proc = _run(cmd)
    assert proc.returncode == 0, proc.stderr
    kinds = [ev.event for ev in events]
    assert kinds[0] == protocol.STARTED and protocol.PROGRESS in kinds
    assert kinds[-1] == protocol.DONE and kinds.count(protocol.RESULT) == 2
    results = [ev.result for ev in events if ev.result is not None]
    assert [(r.status, r.points) for r in results] == [("imported", 5000), ("failed", 0)]
    assert events[0].total == 2 and events[-1] == Event(protocol.DONE, total=2, failed=1)
    assert (runs / results[0].run_id / "run.json").is_file()
    # Again, as a dry run: nothing written, the same protocol.
    events, proc = _run(importer_command("tensorboard", (str(tmp_path / "logs"),),
                                         str(tmp_path / "dry"), dry_run=True))
    assert proc.returncode == 0, proc.stderr
    assert [ev.result.status for ev in events if ev.result is not None] == ["dry-run"]
    assert not (tmp_path / "dry").exists()
