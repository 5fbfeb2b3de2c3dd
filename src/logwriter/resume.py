"""Read an existing run's log to continue it (``init(resume=...)``).

A resumed run never appends to an old segment (its tail may be torn by the
crash that ended the previous process); it opens a new segment whose base_seq
is one past the last record on disk, and rebuilds the user-visible state --
step counter, config, summary, metric rules -- by replaying the deltas.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from logwriter.errors import RunDirError
from logwriter.settings import Settings
from schema.atomic import write_json_atomic
from schema.records import RecordType
from schema.segment import FORMAT_VERSION, list_segments, parse_segment_name


class ResumeState:
    """What a resumed run continues from (a plain class: see settings.Settings)."""

    def __init__(self) -> None:
        self.next_seq = 0
        self.step = 0
        self.config: dict[str, Any] = {}
        self.last: dict[str, Any] = {}
        self.metric_defs: list[dict[str, Any]] = []
        self.records = 0


def has_log(run_dir: Path) -> bool:
    return bool(list_segments(run_dir / "log"))


def read_state(run_dir: Path) -> ResumeState:
    """Replay ``run_dir/log`` into a ResumeState; damaged frames are skipped."""
    from schema.reader import Corrupt, Frame, iter_run_log  # only a resume reads the log

    state = ResumeState()
    log_dir = run_dir / "log"
    top = -1
    for event in iter_run_log(log_dir):
        if isinstance(event, Corrupt):
            if event.last_lost is not None:
                top = max(top, event.last_lost)
            continue
        if not isinstance(event, Frame):
            continue
        for rec in event.records:
            top = max(top, rec.seq)
            state.records += 1
            _apply(state, rec.type, rec.body)
    names = [parse_segment_name(p.name) or 0 for p in list_segments(log_dir)]
    # A later segment with no readable frame still owns its name: start past
    # it unless it is empty (the writer then moves it aside).
    state.next_seq = max([top + 1, *names])
    return state


def _apply(state: ResumeState, rtype: int, body: Any) -> None:
    if not isinstance(body, dict):
        return
    if rtype == RecordType.HISTORY:
        step = body.get("step")
        data = body.get("data")
        if isinstance(step, int):
            state.step = max(state.step, step + 1)
        if isinstance(data, dict):
            state.last.update(data)
    elif rtype == RecordType.CONFIG:
        state.config.update(body)
    elif rtype == RecordType.SUMMARY:
        # Final summaries (computed or set) become the base the new process
        # logs on top of, not sticky overrides of what it logs next.
        state.last.update(body)
    elif rtype == RecordType.METRIC_DEF:
        state.metric_defs.append(body)


def plan_run_dir(root: Path, settings: Settings) -> tuple[bool, ResumeState]:
    """Check the run directory against the resume policy without writing anything;
    returns (resumed, state), the state replayed from the log for a resume.

    Online mode checks the server between this and `create_run_dir`, so that a
    refused server leaves no half-made run behind.
    """
    s = settings
    exists = (root / "run.json").exists() or has_log(root)
    if exists and s.resume == "never":
        raise RunDirError(f"runwal: run directory {root} already exists",
                          hint="pass resume=True to continue it, or a new id=")
    if not exists and s.resume == "must":
        raise RunDirError(f"runwal: resume='must' but there is no run at {root}")
    if not exists:
        return False, ResumeState()
    return True, read_state(root)


def create_run_dir(root: Path, settings: Settings) -> None:
    """Create log/ and files/, and run.json once, atomically, when the directory is
    new; a resumed run keeps its original identity file."""
    s = settings
    try:
        (root / "log").mkdir(parents=True, exist_ok=True)
        (root / "files").mkdir(exist_ok=True)
        if not (root / "run.json").exists():
            write_json_atomic(root / "run.json", {
                "run_id": s.run_id, "project": s.project, "name": s.name,
                "created": time.time(), "format": FORMAT_VERSION,
            })
    except OSError as exc:
        raise RunDirError(f"runwal: cannot create run directory {root}: {exc}") from exc

