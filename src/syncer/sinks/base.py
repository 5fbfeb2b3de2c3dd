"""What the replay engine needs from a destination: the `Sink` and `Destination` protocols.

The engine owns reading and checkpointing; a sink owns turning records into
server requests. The contract that makes sync exactly-once:

* ``send(records)`` returns only after the server acknowledged every request
  for them (or the sink decided a record is permanently refused and reported
  it as a `Rejection`); it raises `syncer.errors.SyncError` when the server
  stays away or refuses the run, never a transport library's exception.
* Every write is idempotent (same key, step, timestamp, value; same tag; same
  artifact path), so replaying the batch after a crash changes nothing.
* ``state()`` is small JSON the engine stores in the checkpoint with the seq,
  and hands back to ``open_run`` next time, so counters and the current config
  advance in step with what the server has.

A `Destination` is one server the sinks of many runs share (a connection
pool, credentials): the unit of sync work (`syncer.engine.unit`), syncd and
the follower get one and make a sink per run from it, so none of them knows
which server product is behind it (`syncer.sinks.mlflow.connect` makes the
MLflow one).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Protocol

from schema.layout import RunDir
from schema.records import Record, finite_number

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sink_file_name(sink_name: str) -> str:
    """``sink_name`` as a `Sink.name`: the file name of its checkpoint and lock under
    ``sync/`` (``sync/<name>.json``, ``.lock``), each unsafe run of characters one ``_``."""
    return _UNSAFE.sub("_", sink_name).strip("_") or "sink"


@dataclass(frozen=True)
class RunIdentity:
    """The run as the engine knows it (run.json plus where it lives)."""

    run_id: str
    run_dir: RunDir
    project: str | None = None
    name: str | None = None
    created: float | None = None
    label: str = ""  # a shared run's non-primary stream: its label ("": the run's own log)

    @classmethod
    def read(cls, run_dir: RunDir) -> RunIdentity:
        """The identity run.json holds (the directory name stands in for a missing run_id).
        For a stream of a shared run (``<run>/streams/<label>``) that is the run's, with
        ``run_dir`` the stream's directory (its log, files and checkpoints).

        A forged or damaged run.json cannot fail a pass here: a field of the wrong
        type counts as missing (a number is taken as its text), a ``created`` that
        is not a finite time as unknown, and lone surrogates become U+FFFD.
        """
        parent = run_dir.parent_run()
        owner = parent if parent is not None else run_dir
        data = owner.identity()
        return cls(
            run_id=_text(data.get("run_id")) or _text(owner.path.name) or "run",
            run_dir=run_dir,
            project=_text(data.get("project")),
            name=_text(data.get("name")),
            created=finite_number(data.get("created")),
            label=run_dir.path.name if parent is not None else "",
        )



def _text(value: Any) -> str | None:
    """A run.json field as text MLflow can store, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        text = str(value)
    except ValueError:  # an int of more digits than Python prints
        return None
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") or None


@dataclass(frozen=True)
class ResumeFrom:
    """What the checkpoint says the server already has (None: ask the server)."""

    server_run_id: str
    experiment_id: str
    state: dict[str, Any]


class Refused(enum.Enum):
    """What a `Rejection` is about."""

    METRIC = "metric"  # one metric row; ``key`` is the metric's key
    PARAM = "param"  # ``key`` is the param's key
    TAG = "tag"  # ``key`` is the tag's key
    STEP = "step"  # a history record whose step is no int64 (none of its values is sent)
    FILE = "file"  # a file record; ``key`` is its path ("" when the record has none)
    ARTIFACT = "artifact"  # an artifact the sink makes itself (output.log, config.json)


@dataclass(frozen=True)
class Rejection:
    """A record (or one value of it) the server refused for good, and why."""

    seq: int  # -1 for an artifact that belongs to no single record
    what: Refused
    key: str
    reason: str

    def describe(self) -> str:
        """``seq 10 metric loss: <reason>``; an artifact is named alone (``output.log``)."""
        label = self.key if self.what is Refused.ARTIFACT else f"{self.what.value} {self.key}"
        return f"seq {self.seq} {label.rstrip()}: {self.reason}"


class Sink(Protocol):
    """A destination. One instance per run; not shared between threads."""

    name: str  # a `sink_file_name`: sync/<name>.json, .lock (e.g. "mlflow-host_5000")
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

    def for_stream(self, label: str, primary_finished: bool) -> Sink:
        """A sink for the shared run's non-primary stream ``label`` (syncer/streams.py),
        sharing this one's connections; ``primary_finished``: the primary stream's EXIT
        is on the server (a failed stream then does not change the run's status)."""
        ...

    def close(self) -> None:
        """Release threads and connections the sink owns (idempotent)."""
        ...


class Destination(Protocol):
    """One server the sinks of many runs share; thread-safe."""

    @property
    def uri(self) -> str:
        """Where it sends, without credentials (for messages)."""
        ...

    @property
    def sink_name(self) -> str:
        """The ``name`` of every sink it makes (checkpoint and lock files under sync/)."""
        ...

    def new_sink(self) -> Sink:
        """A sink for one run; the caller closes it."""
        ...

    def check(self, timeout: float) -> None:
        """Raise ServerUnavailable (AuthFailed for refused credentials) unless the
        server answers within ``timeout`` seconds."""
        ...
