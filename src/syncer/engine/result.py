"""What one pass over one run did: `SyncResult`, the engine's only answer.

The replay engine never raises for server or format trouble: a pass ends in a
`SyncResult` whose ``status`` says how it went, so ``runwal sync`` can report
a bad run in its table and go on, ``syncd`` can back off or leave a run
alone, and the follower can retry. ``--json`` output is `SyncResult.to_json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from syncer.sinks.base import Rejection


@dataclass
class SyncResult:
    """What one pass did. ``status``: synced | partial | skipped | failed | dry-run."""

    run_dir: str
    run_id: str = ""
    status: str = "synced"
    reason: str = ""
    retryable: bool = False  # failed only because the server was away: try again later
    artifacts_pending: bool = False  # artifacts="defer" left an upload for a later pass
    busy: bool = False  # skipped: another process holds the run's sync lock for this server
    finished: bool = False
    server_run_id: str = ""
    experiment_id: str = ""
    records: int = 0  # records delivered in this pass
    points: int = 0  # metric rows delivered in this pass
    last_seq: int = -1  # highest seq the server has acknowledged
    unknown: int = 0  # records of types this syncer does not know (skipped)
    damaged: int = 0  # damaged regions of the log skipped (see notes)
    values_skipped: int = 0  # non-numeric metric values (skipped by design)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # corruption, torn tails
    seconds: float = 0.0
    # a shared run's other streams: label -> {status, reason, finished, last_seq, records}
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["rejected"] = [r.describe() for r in self.rejected]
        return out

    def fold(self, label: str, part: SyncResult) -> None:
        """Add what the pass over stream ``label`` did (its notes name the stream)."""
        self.records += part.records
        self.points += part.points
        self.unknown += part.unknown
        self.damaged += part.damaged
        self.rejected += part.rejected
        self.notes += [f"stream {label}: {n}" for n in part.notes]
        if part.status == "failed":
            self.notes.append(f"stream {label}: failed: {part.reason}")
        elif not part.finished:
            self.notes.append(f"stream {label}: no exit record yet (the process is still "
                              "running, or ended without finish())")
        self.streams[label] = {"status": part.status, "reason": part.reason,
                               "finished": part.finished, "last_seq": part.last_seq,
                               "records": part.records}


def not_a_run(path: Path) -> SyncResult:
    """The failed result of a directory that is not (or no longer) a run."""
    return SyncResult(
        run_dir=str(path),
        run_id=path.name,
        status="failed",
        reason="not a run directory (no run.json, no log/)",
    )


def verdict(r: SyncResult) -> tuple[str, str]:
    """The status and reason of a pass that ran to its end (synced, partial or failed)."""
    reasons = []
    if not r.finished:
        reasons.append("not finished")
    if r.rejected:
        reasons.append(f"{len(r.rejected)} rejected by server")
    if r.damaged:
        reasons.append(f"{r.damaged} damaged region(s) skipped")
    if r.unknown:
        reasons.append(f"{r.unknown} unknown record(s) skipped")
    if r.damaged and r.last_seq < 0:
        return "failed", "no readable records; " + "; ".join(reasons)
    streams_done = all(s["finished"] and s["status"] != "failed" for s in r.streams.values())
    if not streams_done:
        reasons.append("a stream not finished or failed")
    status = ("synced" if r.finished and streams_done and not r.rejected and not r.damaged
              else "partial")
    return status, "; ".join(reasons)
