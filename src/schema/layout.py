"""Where things live inside a run directory.

::

    runs/<run_id>/
      run.json          identity, written once atomically (RUN_JSON_KEYS)
      log/              WAL segments <base_seq:020d>.seg, append-only
      files/            user files saved with run.save(), referenced by FILE records
      sync/<sink>.json  syncer checkpoints; never written by the SDK
      streams/<label>/  a shared run's other writer streams (one per process that is
                        not the primary), each laid out like a run: log/, files/, sync/

A run directory is self-contained: copy it anywhere and it syncs the same.

The names here are the one source for both halves (the SDK imports this
module at ``init()``, so it pulls in no dataclasses).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from schema.errors import NotARunDir
from schema.segment import FORMAT_VERSION, list_segments

RUN_JSON = "run.json"
LOG_DIR = "log"
FILES_DIR = "files"
SYNC_DIR = "sync"
WRITER_LOCK = "writer.lock"  # in log/: flock-held by the one process writing the run
STREAMS_DIR = "streams"  # a shared run's non-primary writer streams
PRIMARY_STREAM = ""  # the label the primary stream (the run's own log/) is known by
DAMAGED_RUN_JSON = ("run.json is damaged; the log may still be intact: `runwal verify RUN` "
                    "checks it, and restoring run.json from a copy makes the run syncable")
RUN_JSON_KEYS = ("run_id", "project", "name", "created", "format")
# A stream's label: its directory name under streams/ (docs/FORMAT.md, "Streams").
STREAM_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RunDir:
    """A run directory on disk; compares and hashes by its path."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir(path={self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """A RunDir for an existing run; NotARunDir with a hint otherwise."""
        p = Path(path)
        if not p.exists():
            raise NotARunDir("no such directory", path=str(p))
        if not p.is_dir():
            raise NotARunDir("not a directory", path=str(p))
        if not (p / RUN_JSON).is_file() and not (p / LOG_DIR).is_dir():
            raise NotARunDir("not a runwal run directory (no run.json, no log/)", path=str(p),
                             hint=foreign_run_hint(p))
        return cls(p)

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def log_dir(self) -> Path:
        return self.path / LOG_DIR

    @property
    def files_dir(self) -> Path:
        return self.path / FILES_DIR

    @property
    def sync_dir(self) -> Path:
        return self.path / SYNC_DIR

    def segments(self) -> list[Path]:
        return list_segments(self.log_dir)

    @property
    def streams_dir(self) -> Path:
        return self.path / STREAMS_DIR

    def streams(self) -> list[RunDir]:
        """The shared run's other writer streams (``streams/<label>/`` with a log/), in
        label order; [] for a run of one stream, or when streams/ cannot be listed."""
        try:
            entries = sorted(os.scandir(self.streams_dir), key=lambda e: e.name)
        except OSError:
            return []
        return [RunDir(e.path) for e in entries
                if STREAM_LABEL.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
                and os.path.isdir(os.path.join(e.path, LOG_DIR))]

    @property
    def label(self) -> str:
        """This stream's label: PRIMARY_STREAM ("") for a run's own log."""
        return self.path.name if self.parent_run() is not None else PRIMARY_STREAM

    def parent_run(self) -> RunDir | None:
        """The run this directory is a non-primary stream of (``<run>/streams/<label>``),
        else None."""
        up = self.path.parent
        if up.name != STREAMS_DIR or not STREAM_LABEL.fullmatch(self.path.name):
            return None
        return RunDir(up.parent) if is_run_dir(up.parent) else None

    def identity(self) -> dict[str, Any]:
        """run.json contents; falls back to the directory name if it is missing."""
        try:
            data = json.loads(self.run_json.read_text())
        except FileNotFoundError:
            return {"run_id": self.path.name, "format": FORMAT_VERSION}
        except (OSError, ValueError) as exc:
            raise NotARunDir(f"unreadable run.json: {exc}", path=str(self.run_json),
                             hint=DAMAGED_RUN_JSON) from exc
        if not isinstance(data, dict):
            raise NotARunDir("run.json is not an object", path=str(self.run_json),
                             hint=DAMAGED_RUN_JSON)
        return data


def run_created(path: str | os.PathLike[str]) -> bool:
    """Whether the SDK has finished creating the run at ``path``: its run.json exists
    (written last). For a shared run's stream directory (``<run>/streams/<label>``):
    the run's run.json and the stream's own log/. Path logic first: ``path`` need not
    exist yet (a follower started before its run waits for this)."""
    p = Path(path)
    if p.parent.name == STREAMS_DIR and STREAM_LABEL.fullmatch(p.name):
        return (p.parent.parent / RUN_JSON).exists() and (p / LOG_DIR).is_dir()
    return (p / RUN_JSON).exists()


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    """True for a directory holding run.json or log/ (what every command calls a run)."""
    p = Path(path)
    return (p / RUN_JSON).is_file() or (p / LOG_DIR).is_dir()


def foreign_run_hint(path: str | os.PathLike[str]) -> str | None:
    """How to bring ``path`` in when it is another tool's run, else None (the default hint).

    A TensorBoard logdir (``events.out.tfevents.*`` files, as cleanrl writes into
    ``runs/<name>``, next to runwal's own ``./runs``) or a wandb offline run
    (``run-<id>.wandb``) is a run ``runwal import`` can turn into a runwal one.
    Only the directory itself is listed: cheap, and never a recursive walk.
    """
    try:
        names = [e.name for e in os.scandir(path) if e.is_file()]
    except OSError:
        return None
    if any(n.startswith("events.out.tfevents.") for n in names):
        return f"it holds TensorBoard event files: `runwal import tensorboard {path} --into RUNS`"
    if any(n.startswith("run-") and n.endswith(".wandb") for n in names):
        return f"it is a wandb offline run: `runwal import wandb {path} --into RUNS`"
    return None


def child_runs(path: str | os.PathLike[str]) -> list[Path]:
    """The sorted child directories of ``path`` that are runs; [] when unreadable."""
    try:
        return sorted(c for c in Path(path).iterdir() if c.is_dir() and is_run_dir(c))
    except OSError:
        return []
