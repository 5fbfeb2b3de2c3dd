"""What the replay engine needs from a destination: the `Sink` protocol.

The engine owns reading and checkpointing; a sink owns turning records into
server requests. The contract that makes sync exactly-once:

* ``send(records)`` returns only after the server acknowledged every request
  for them (or the sink decided a record is permanently refused and reported
  it as a `Rejection`); it raises SyncError when the server stays away.
* Every write is idempotent (same key, step, timestamp, value; same tag; same
  artifact path), so replaying the batch after a crash changes nothing.
* ``state()`` is small JSON the engine stores in the checkpoint with the seq,
  and hands back to ``open_run`` next time, so counters and the current config
  advance in step with what the server has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from schema.layout import RunDir
from schema.records import Record


@dataclass(frozen=True)
class RunIdentity:
    """The run as the engine knows it (run.json plus where it lives)."""

    run_id: str
    run_dir: RunDir
    project: str | None = None
    name: str | None = None
    created: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResumeFrom:
    """What the checkpoint says the server already has (None: ask the server)."""

    server_run_id: str
    experiment_id: str
    state: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    """A record (or one value of it) the server refused for good, and why."""

    seq: int
    key: str
    reason: str

    def describe(self) -> str:
        return f"seq {self.seq} {self.key}: {self.reason}"


class Sink(Protocol):
    """A destination. One instance per run; not shared between threads."""

    name: str  # file name of the checkpoint under sync/ (e.g. "mlflow-host_5000")
    uri: str  # where it sends, without credentials
    points_sent: int  # metric rows acknowledged so far (for progress and results)
    values_skipped: int  # values that are not metrics (str, None) and were skipped

    @property
    def server_run_id(self) -> str: ...

    @property
    def experiment_id(self) -> str: ...

    def open_run(
        self, identity: RunIdentity, run_record: Record | None, resume: ResumeFrom | None
    ) -> None:
        """Find or create the server run. ``run_record`` is the RUN record when the
        engine starts from seq 0 (its ts is the run's start time)."""
        ...

    def send(self, records: list[Record]) -> list[Rejection]:
        """Deliver ``records`` (in seq order); return what was refused for good."""
        ...

    def end_pass(self) -> list[Rejection]:
        """Flush accumulated artifacts (console log, config.json) at a pause."""
        ...

    def finish(self, exit_record: Record) -> list[Rejection]:
        """Flush like end_pass, then mark the server run ended (status, end time)."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-able state to store with the checkpoint."""
        ...

    def close(self) -> None:
        """Release threads and connections the sink owns (idempotent)."""
        ...
