"""``runwal import wandb DIR...``: a wandb offline run directory becomes a run dir.

The records of ``run-<id>.wandb`` (wandblog.py: the LevelDB-log framing) are
``wandb.Record`` protobufs, decoded with wandb's published messages
(``wandb.proto.wandb_internal_pb2``, from the ``wandb-import`` extra). Which
wandb record becomes which runwal record is wandbrecords.py's table; wandb's
rich values (a map with a ``_type``) as MEDIA records, wandbmedia.py's.

This module is the source: finding the runs under a path, the run's project,
name and start time (run.json needs them before any record is written), and
reading the log. Skipped and counted: telemetry, environment, artifacts,
tbrecord, final, footer, requests. The run id is ``wandb-<time>-<wandb id>``
from the directory name ``offline-run-<time>-<id>`` (so a copy imports as the
same run). The cursor is the number of records read: a grown file (a live run
imported again) appends the records past it.

wandb's messages are imported here, not only where they decode: importing this
module is how entry.py finds out that the extra is missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

from logwriter.importers.errors import NotASource
from logwriter.importers.rundir import RunWriter, stable_id
from logwriter.importers.wandblog import LogDamage, Torn, read_log
from logwriter.importers.wandbrecords import RecordWriter, stamp_ts

pb: Any = wandb_internal_pb2  # generated code: no types for mypy
_DIR_NAME = re.compile(r"^(?:offline-)?run-(\d{8}_\d{6})-([A-Za-z0-9]+)$")
PEEK_BYTES = 1 << 20  # the run record is among the first few: read no more to find it


def find_runs(path: Path) -> list[WandbRun]:
    """The wandb run in ``path`` (an offline-run-* dir), or every one in a wandb/ dir."""
    if not path.is_dir():
        raise NotASource("not a directory", path=str(path),
                         hint="pass a wandb offline run directory (wandb/offline-run-*, holding "
                              "run-<id>.wandb), or the wandb/ directory that holds them")
    logs = sorted(path.glob("run-*.wandb"))
    if logs:
        return [WandbRun(path, logs[0])]
    kids = [WandbRun(d, sorted(d.glob("run-*.wandb"))[0]) for d in sorted(path.iterdir())
            if d.is_dir() and not d.is_symlink() and any(d.glob("run-*.wandb"))]
    if not kids:
        raise NotASource("no wandb run here (no run-<id>.wandb)", path=str(path))
    return kids


class WandbRun:
    """One wandb offline run (a `logwriter.importers.rundir.Source`)."""

    kind = "wandb"

    def __init__(self, path: Path, log: Path) -> None:
        self.path = path
        self.log = log
        m = _DIR_NAME.match(path.name)
        self.run_id = (f"wandb-{m.group(1)}-{m.group(2)}" if m
                       else stable_id("wandb", path.name, log.name))
        self.project = "uncategorized"
        self.name = log.stem[len("run-"):]
        self._created: float | None = None
        self._peeked = False
        self._peek()

    def fingerprint(self) -> dict[str, int]:
        return {"size": self.log.stat().st_size}

    def grown(self, old: Any, new: Any) -> bool:
        return (isinstance(old, dict) and isinstance(old.get("size"), int)
                and new["size"] >= old["size"])

    def created(self) -> float:
        self._peek()
        return self._created if self._created is not None else self.log.stat().st_mtime

    def _peek(self) -> None:
        """Project, name and start time from the run record (run.json needs them first)."""
        if self._peeked:
            return
        self._peeked = True
        try:
            for i, raw in enumerate(read_log(self.log, PEEK_BYTES)):
                if i > 50:
                    break
                if isinstance(raw, bytes):
                    rec = pb.Record.FromString(raw)
                    if rec.WhichOneof("record_type") == "run":
                        r = rec.run
                        self.project = r.project or self.project
                        self.name = r.display_name or self.name
                        self._created = stamp_ts(r.start_time) if r.HasField("start_time") else None
                        return
        except (ValueError, OSError):
            return

    def write(self, out: RunWriter, cursor: Any) -> dict[str, int]:
        self._peek()
        skip = int((cursor or {}).get("records", 0))
        w = RecordWriter(self, out, skip)
        try:
            events = read_log(self.log)
            for raw in events:
                if isinstance(raw, LogDamage):
                    out.notes.append(f"{self.log}: {raw.describe()}")
                    out.counts["damaged"] += 1
                elif isinstance(raw, Torn):
                    out.notes.append(f"{self.log}: torn last record at offset {raw.offset}")
                else:
                    w.record(raw)
        except ValueError as exc:
            raise NotASource(f"{self.log}: {exc}") from None
        w.finish()
        return {"records": w.index}

