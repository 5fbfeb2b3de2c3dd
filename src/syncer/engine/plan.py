"""``runwal sync --dry-run``: what a pass would send, touching nothing.

Reads the log from the checkpoint on, exactly as a pass would (same cursor,
same seq filter), and counts records and metric rows; no server is contacted
and nothing is written, not even sync/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from schema.errors import SchemaError
from schema.layout import RunDir
from schema.records import Record
from syncer.engine import checkpoint
from syncer.engine.cursor import LogCursor, Note
from syncer.engine.result import SyncResult
from syncer.sinks.base import RunIdentity


def plan_run(
    run_dir: str | Path, sink_name: str, sink_uri: str, count_points: Callable[[Record], int]
) -> SyncResult:
    """A ``dry-run`` (or ``skipped``, or ``failed``) result; ``count_points`` says how
    many metric rows one record becomes at the destination."""
    t0 = time.monotonic()
    result = SyncResult(run_dir=str(run_dir), status="dry-run")
    try:
        rd = RunDir.open(run_dir)
        result.run_id = RunIdentity.read(rd).run_id
        ckpt = checkpoint.load(rd, sink_name, sink_uri)
        acked = ckpt.seq if ckpt else -1
        if checkpoint.up_to_date(rd, ckpt):
            result.status, result.reason = "skipped", "already synced"
        cursor = LogCursor.after(rd, ckpt)
        more = True
        while more:  # window by window, like a pass: memory bounded however long the log
            for ev in cursor.poll():
                if isinstance(ev, Note):
                    result.notes.append(ev.text)
                    result.damaged += ev.damage
                    continue
                for rec in ev.records:
                    if rec.seq <= acked:
                        continue
                    result.last_seq = rec.seq
                    if rec.kind is None:
                        result.unknown += 1
                        continue
                    result.records += 1
                    result.points += count_points(rec)
                    result.finished = rec.kind == "exit"
            more = cursor.more
    except (SchemaError, OSError) as exc:
        result.status, result.reason = "failed", str(exc)
    result.seconds = time.monotonic() - t0
    return result
