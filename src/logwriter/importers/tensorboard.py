"""``runwal import tensorboard LOGDIR...``: each TensorBoard run becomes a run dir.

A run is a directory holding event files (``*tfevents*``), as TensorBoard
groups them; its name is the directory's path below LOGDIR (``.`` for LOGDIR
itself: then LOGDIR's own name). One exception: ``add_hparams()`` of
tensorboardX and torch writes the hparams into a child directory named by
the time (``<run>/1712345678.123/``); such a child, named like a number,
belongs to its parent run: its hparams become the parent's config and its
metrics the parent's history, where wandb and the HParams tab put them too.

Records (logwriter.tensorboard.records maps the items): RUN (ts = the first
event's wall time; ``imported_from`` names the source), then each event
file's items in file-name order, a SUMMARY of every tag's last scalar, and an
EXIT ``finished`` at the last event's wall time. The run id is ``tb-`` and
16 hex digits of the sha256 of the run directory's name and its first event
file's name (a writer's file name holds its start time and host), so a copy
of the logdir elsewhere maps to the same run. The cursor is each file's
offset: a file that grew (or a new file) is read from where the last import
stopped, a torn last record included.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from logwriter.importers.errors import NotASource
from logwriter.importers.rundir import RunWriter, stable_id
from schema.records import RecordType


def _is_event_file(name: str) -> bool:
    from logwriter.tensorboard.events import is_event_file

    return is_event_file(name)


def _is_hparams_dir(name: str) -> bool:
    from logwriter.tensorboard.events import is_hparams_dir

    return is_hparams_dir(name)


def find_runs(logdir: Path, project: str | None = None) -> list[TensorBoardRun]:
    """The runs under ``logdir``, sorted by path; NotASource when there is none. An event
    file stands for the directory that holds it (one TensorBoard run)."""
    if logdir.is_file() and _is_event_file(logdir.name):
        logdir = logdir.parent
    if not logdir.is_dir():
        raise NotASource("not a directory", path=str(logdir),
                         hint="pass a TensorBoard logdir: a directory holding *tfevents* files")
    holders: dict[Path, list[Path]] = {}
    for top, dirs, files in os.walk(logdir):
        dirs.sort()
        events = sorted(Path(top) / f for f in files if _is_event_file(f))
        if events:
            holders[Path(top)] = events
    if not holders:
        raise NotASource("no TensorBoard event files (*tfevents*) under it", path=str(logdir))
    runs: dict[Path, TensorBoardRun] = {}
    root_name = logdir.resolve().name or "logdir"
    for d in sorted(holders):
        parent = d.parent
        if d != logdir and _is_hparams_dir(d.name) and parent in runs:
            runs[parent].files += holders[d]  # add_hparams()'s child: the parent's
            continue
        rel = d.relative_to(logdir).as_posix()
        name = root_name if rel == "." else rel
        runs[d] = TensorBoardRun(d, name, project or root_name, holders[d])
    return list(runs.values())


class TensorBoardRun:
    """One TensorBoard run (a `logwriter.importers.rundir.Source`)."""

    kind = "tensorboard"

    def __init__(self, path: Path, name: str, project: str, files: list[Path]) -> None:
        self.path = path
        self.name = name
        self.project = project
        self.files = files
        self.run_id = stable_id("tb", path.resolve().name, files[0].name)
        self._first: float | None = None

    def _rel(self, f: Path) -> str:
        return f.relative_to(self.path).as_posix()

    def fingerprint(self) -> dict[str, int]:
        return {self._rel(f): f.stat().st_size for f in self.files}

    def grown(self, old: Any, new: Any) -> bool:
        return isinstance(old, dict) and all(
            isinstance(size, int) and new.get(rel, -1) >= size for rel, size in old.items())

    def created(self) -> float:
        if self._first is None:
            self._first = self._first_wall_time()
        return self._first

    def _first_wall_time(self) -> float:
        from logwriter.tensorboard.events import messages
        from logwriter.tensorboard.tfrecord import read_records

        event_cls = messages().Event
        for f in self.files:
            chunk = read_records(f, 0, 1 << 16)
            for _, data in chunk.records[:1]:
                return float(event_cls.FromString(data).wall_time)
        return os.stat(self.files[0]).st_mtime

    def write(self, out: RunWriter, cursor: Any) -> dict[str, int]:
        from logwriter.tensorboard.events import read_events
        from logwriter.tensorboard.records import ToRecords

        cursor = dict(cursor or {})
        fresh = not cursor
        readings = []
        for f in self.files:
            rel = self._rel(f)
            r = read_events(f, cursor.get(rel, 0))
            readings.append((rel, r))
            cursor[rel] = r.offset
        walls = [it.wall_time for _, r in readings for it in r.items]
        first = self.created()
        last = max(walls, default=first)
        if fresh:
            out.put(int(RecordType.RUN), first, {
                "run_id": self.run_id, "project": self.project, "name": self.name,
                "mode": "offline", "tags": [], "notes": None, "group": None,
                "job_type": None, "started": first,
                "imported_from": {"kind": self.kind, "path": str(self.path.resolve()),
                                  "at": time.time()},
            })
        conv = ToRecords(out.put, out.files_dir)
        for rel, r in readings:
            conv.add(r.items)
            out.notes += [d.describe() for d in r.damage]
            out.counts["damaged"] += len(r.damage)
            if r.torn:
                out.notes.append(f"{self.path / rel}: torn last record at offset {r.offset} "
                                 "(read later when it is complete)")
            for what, n in r.skipped.items():
                out.counts[f"skipped_{what}"] += n
        out.counts.update(conv.counts)
        if conv.last:
            out.put(int(RecordType.SUMMARY), last, dict(conv.last))
        out.put(int(RecordType.EXIT), last, {"code": 0, "status": "finished",
                                             "runtime": round(max(0.0, last - first), 6)})
        return cursor
