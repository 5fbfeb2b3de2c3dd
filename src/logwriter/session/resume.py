"""Read an existing run's log to continue it (``init(resume=...)``).

A resumed run never appends to an old segment (its tail may be torn by the
crash that ended the previous process); it opens a new segment whose base_seq
is one past the last record on disk, and rebuilds the user-visible state --
step counter, config, summary, metric rules -- by replaying the deltas, and
which files the earlier processes recorded (so that finish() records only the
files of ``run.dir`` that none did; files/save.py).

Who may continue a run: one process at a time (wal/writerlock.py). ``open_run_dir``
takes the run's lock and, under it, checks the log again: what
``plan_run_dir`` read before the lock (online mode reads it before it may
create anything) is used only if no other process changed the log since.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from logwriter.errors import RunDirError
from logwriter.session.settings import Settings
from logwriter.values.text import clean_text
from logwriter.wal.writerlock import WriterLock
from schema.atomic import create_json_once, make_dirs, write_json_atomic
from schema.layout import FILES_DIR, LOG_DIR, RUN_JSON
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
        self.files: dict[str, str] = {}  # path -> sha256 of its last FILE record
        self.records = 0
        self.seen: tuple[Any, ...] = ()  # what the log looked like when this was read


def has_log(run_dir: Path) -> bool:
    return bool(list_segments(run_dir / LOG_DIR))


def _fingerprint(run_dir: Path) -> tuple[Any, ...]:
    """run.json's presence and each segment's name and size: changes when anyone
    created, resumed or appended to the run."""
    out: list[Any] = [(run_dir / RUN_JSON).exists()]
    for path in list_segments(run_dir / LOG_DIR):
        try:
            out.append((path.name, path.stat().st_size))
        except OSError:
            out.append((path.name, -1))
    return tuple(out)


def read_state(run_dir: Path) -> ResumeState:
    """Replay ``run_dir/log`` into a ResumeState; damaged frames are skipped."""
    from schema.reader import Corrupt, Frame, iter_run_log  # only a resume reads the log

    state = ResumeState()
    log_dir = run_dir / LOG_DIR
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
    elif rtype == RecordType.FILE:
        path, sha = body.get("path"), body.get("sha256")
        if isinstance(path, str) and isinstance(sha, str):
            state.files[path] = sha
    elif rtype == RecordType.MEDIA:
        # A row of rich values only writes no history record: its step still counts.
        step = body.get("step")
        if type(step) is int:
            state.step = max(state.step, step + 1)


def plan_run_dir(root: Path, settings: Settings) -> tuple[bool, ResumeState]:
    """Check the run directory against the resume policy without writing anything;
    returns (resumed, state), the state replayed from the log for a resume.

    Online mode checks the server between this and `create_run_dir`, so that a
    refused server leaves no half-made run behind.
    """
    s = settings
    # A shared run's run.json may be another process's: only this stream's log counts.
    exists = has_log(root) if s.shared else (root / RUN_JSON).exists() or has_log(root)
    if exists and s.resume == "never":
        raise RunDirError(f"runwal: run directory {root} already exists",
                          hint="pass resume=True to continue it, or a new id=")
    if not exists and s.resume == "must":
        raise RunDirError(f"runwal: resume='must' but there is no run at {root}")
    seen = _fingerprint(root)
    state = read_state(root) if exists else ResumeState()
    state.seen = seen
    return exists, state


def open_run_dir(root: Path, settings: Settings, planned: tuple[bool, ResumeState]
                 ) -> tuple[WriterLock | None, bool, ResumeState]:
    """Create the run directory, take its writer lock, and create what is missing
    (files/, run.json); returns the lock and the (resumed, state) that hold under it:
    ``planned`` when the log did not change since, else read again."""
    try:
        make_dirs(root / LOG_DIR)  # each new level fsync'd into its parent: power cuts
    except OSError as exc:
        raise RunDirError(f"runwal: cannot create run directory {root}: {exc}") from exc
    lock = WriterLock.acquire(root / LOG_DIR, settings.run_id,
                              label=settings.label if settings.shared else None)
    try:
        resumed, state = planned
        if _fingerprint(root) != state.seen:  # another process got there first
            resumed, state = plan_run_dir(root, settings)
        create_run_dir(root, settings)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return lock, resumed, state


def create_run_dir(root: Path, settings: Settings) -> None:
    """Create log/ and files/, and run.json once, atomically, when the directory is
    new; a resumed run keeps its original identity file. In a shared run, ``root``
    may be a stream's directory: run.json is the run's, made by whichever process
    of the job comes first."""
    s = settings
    identity = {"run_id": s.run_id, "project": clean_text(s.project),
                "name": clean_text(s.name), "created": time.time(), "format": FORMAT_VERSION}
    try:
        make_dirs(root / LOG_DIR)
        make_dirs(root / FILES_DIR)
        if s.shared:
            create_json_once(Path(s.shared_run_dir) / RUN_JSON, identity)
        elif not (root / RUN_JSON).exists():
            write_json_atomic(root / RUN_JSON, identity)
    except OSError as exc:
        raise RunDirError(f"runwal: cannot create run directory {root}: {exc}") from exc

