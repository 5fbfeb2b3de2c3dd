"""Helpers shared by the logwriter tests: read a run's records back with the schema reader."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from schema.reader import Corrupt, Frame, Incomplete, SegmentDamaged, iter_run_log
from schema.records import Record

QUIET = {"capture_console": False, "stats_interval": 0}


def read_run(run_dir: str | os.PathLike[str]) -> tuple[list[Record], list[Any]]:
    """All records of a run in seq order, and every non-frame event (damage, torn tails)."""
    records: list[Record] = []
    other: list[Any] = []
    for ev in iter_run_log(Path(run_dir) / "log"):
        if isinstance(ev, Frame):
            records.extend(ev.records)
        else:
            other.append(ev)
    return records, other


def read_clean(run_dir: str | os.PathLike[str]) -> list[Record]:
    """Records of a cleanly finished run; fails on any damage or torn tail; seqs dense."""
    records, other = read_run(run_dir)
    assert other == [], other
    assert [r.seq for r in records] == list(range(records[0].seq, records[0].seq + len(records)))
    return records


def damage(events: list[Any]) -> list[Any]:
    """Events that mean lost data (anything but a torn tail)."""
    return [e for e in events if isinstance(e, (Corrupt, SegmentDamaged))]


def of_kind(records: list[Record], kind: str) -> list[Any]:
    return [r.body for r in records if r.kind == kind]


def history(records: list[Record]) -> dict[int, dict[str, Any]]:
    return {b["step"]: b["data"] for b in of_kind(records, "history")}


def acked_steps(side: Path) -> dict[int, float]:
    """step -> time.monotonic() of each log() a crash child acknowledged, from its side
    file of "step time" lines (tests/crash_child.py); the last line may be torn by the
    kill and is left out."""
    out = {}
    for line in side.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[int(parts[0])] = float(parts[1])
    return out


__all__ = ["QUIET", "Incomplete", "acked_steps", "damage", "history", "of_kind", "read_clean",
           "read_run"]


def merged(records: list[Record], kind: str) -> dict[str, Any]:
    """The CONFIG or SUMMARY deltas of a run folded into the final dict."""
    out: dict[str, Any] = {}
    for delta in of_kind(records, kind):
        out.update(delta)
    return out


def wait_until(cond: Any, what: str, timeout: float = 20.0) -> None:
    """Poll ``cond()`` until true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
