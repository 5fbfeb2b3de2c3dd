"""The syncer's memory of what a server already has: ``sync/<sink>.json``.

Written with schema.atomic (tmp + fsync + rename) only *after* the server
acknowledged everything up to ``seq``, so a crash at any point leaves either
the old or the new checkpoint and at worst re-sends one batch, which the sink
makes harmless. ``segment``/``offset`` say where the next unread frame starts
(a resume skips straight there; ``offset_seq`` is the seq due there, which
is below ``seq + 1`` when the frame holds records the server already has: they
are skipped when read again); ``state`` is the sink's own small JSON state
(current config, counters) that must advance in step with ``seq``.

Never holds credentials: ``uri`` is stored without user:password.

``version`` 2 (this runwal) promises that ``segment``/``offset`` never lie
past a record above ``seq``. Version 1 checkpoints (no ``version`` key) broke
that in one case: the batch flushed just before an EXIT record that ends its
frame saved the offset past that frame, so a syncer that died (or gave up) at
the final runs/update never read the EXIT again and the server run stayed
RUNNING. `needs_reread` tells the engine to read such a checkpoint's segment
from its start once (records up to ``seq`` are skipped, not re-sent).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from schema.atomic import make_dirs, write_atomic
from schema.layout import RunDir
from syncer.sinks.base import sink_file_name

VERSION = 2


@dataclass
class Checkpoint:
    sink: str
    uri: str
    server_run_id: str
    experiment_id: str
    seq: int = -1  # last acknowledged seq; -1 = nothing yet
    segment: str = ""  # segment holding the next unread frame
    offset: int = 0  # byte offset of that frame
    offset_seq: int = -1  # the seq of that frame's first record (-1: seq + 1)
    finished: bool = False  # the EXIT record (the last record seen) was acknowledged
    state: dict[str, Any] = field(default_factory=dict)
    updated: float = 0.0
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies ``state`` on every save (syncd saves
        # once per write of every live run), and json.dumps needs no copy.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def needs_reread(self) -> bool:
        """A version 1 checkpoint of an unfinished run: its offset may be past the EXIT."""
        return self.version < 2 and not self.finished


def path_for(run_dir: RunDir, sink_name: str) -> Path:
    return run_dir.sync_dir / f"{sink_file_name(sink_name)}.json"


def load(run_dir: RunDir, sink_name: str, uri: str | None = None) -> Checkpoint | None:
    """The checkpoint, or None when missing or unreadable (then the sink looks the
    run up on the server by its ``runwal.run_id`` tag instead); with ``uri``, also
    None when it was written for another server URI."""
    ckpt = _read(run_dir, sink_name)
    if ckpt is not None and uri is not None and ckpt.uri != uri:
        return None
    return ckpt


def _read(run_dir: RunDir, sink_name: str) -> Checkpoint | None:
    try:
        data = json.loads(path_for(run_dir, sink_name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return Checkpoint(
            sink=str(data["sink"]),
            uri=str(data["uri"]),
            server_run_id=str(data["server_run_id"]),
            experiment_id=str(data["experiment_id"]),
            seq=int(data.get("seq", -1)),
            segment=str(data.get("segment", "")),
            offset=int(data.get("offset", 0)),
            offset_seq=int(data.get("offset_seq", -1)),
            finished=bool(data.get("finished", False)),
            state=dict(data.get("state") or {}),
            updated=float(data.get("updated", 0.0)),
            version=int(data.get("version", 1)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def save(run_dir: RunDir, ckpt: Checkpoint) -> None:
    ckpt.updated = time.time()
    ckpt.version = VERSION
    make_dirs(run_dir.sync_dir, parents=False)  # a new sync/ survives a power cut
    # One line, by json's C encoder (indent= takes the pure-Python one: ~1/3 of a save)
    text = json.dumps(ckpt.to_json(), sort_keys=True) + "\n"
    write_atomic(path_for(run_dir, ckpt.sink), text.encode())


def up_to_date(run_dir: RunDir, ckpt: Checkpoint | None) -> bool:
    """Finished and nothing on disk past the checkpoint: cheap (stat only)."""
    if ckpt is None or not ckpt.finished:
        return False
    segs = run_dir.segments()
    return bool(segs) and segs[-1].name == ckpt.segment and segs[-1].stat().st_size == ckpt.offset
