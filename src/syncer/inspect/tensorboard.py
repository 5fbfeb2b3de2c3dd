"""Export a run's history scalars and media as a TensorBoard event file, in pure Python.

No TensorFlow, tensorboard or protobuf dependency: the format is small enough
to write by hand, and a run dir must stay readable on a login node that has
nothing installed but runwal.

An event file is a sequence of TFRecords, each framing one ``Event``
(`schema.tfrecord` makes those bytes, and its docstring has their layout: the
SDK's event-file reader checks them with the same code). The subset of
tensorflow/core/util/event.proto and summary.proto used::

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
              Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; }

The first event carries only ``file_version = "brain.Event:2"``; then one
event per history record (its step, its ts as wall time) with one value per
numeric key. bool becomes 0/1; str, None, lists and maps are skipped (counted
in `ExportResult.skipped`). Values are float32, as TensorBoard stores them:
a number beyond float32 range becomes ±inf. Each ``media`` record is one more
event at its step, with an image, audio, histogram or text value per item
(`syncer.inspect.tbmedia`, which has the protobuf subset it writes; the wire
format of both: `syncer.inspect.protowire`).

A shared run (docs/FORMAT.md, "Streams") is one event file: the run's own
log, then each writer stream's (``streams/<label>/``, label order), whose
history and media tags are the names the server shows
(`syncer.streams.namespaced`: ``rank_1/loss``, ``rank_1/samples``), their
media files read from the stream's own ``files/``.
"""

from __future__ import annotations

import os
import socket
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from schema import tfrecord
from schema.errors import SchemaError
from schema.layout import RunDir
from schema.reader import Frame, Incomplete, iter_run_log
from schema.records import Record, RecordType, body_problem, finite_number
from syncer.inspect import protowire as pw
from syncer.inspect.metricstats import as_number
from syncer.inspect.spelling import key_text
from syncer.inspect.tbmedia import media_values
from syncer.streams import namespaced

FILE_VERSION = "brain.Event:2"


# -- messages ----------------------------------------------------------------------


def encode_value(tag: str, value: float) -> bytes:
    return pw.len_field(1, tag.encode("utf-8")) + pw.key(2, pw.FIXED32) + pw.float32(value)


def encode_event(
    wall_time: float,
    *,
    step: int | None = None,
    file_version: str | None = None,
    scalars: Iterable[tuple[str, float]] = (),
    values: Iterable[bytes] = (),
) -> bytes:
    """Serialized ``Event`` protobuf (fields in field-number order); ``values`` are
    encoded ``Summary.Value`` messages added after the scalars."""
    parts = [pw.key(1, pw.FIXED64), struct.pack("<d", wall_time), pw.int_field(2, step or 0)]
    if file_version is not None:
        parts.append(pw.len_field(3, file_version.encode("utf-8")))
    summary = b"".join(pw.len_field(1, encode_value(t, v)) for t, v in scalars)
    summary += b"".join(pw.len_field(1, v) for v in values)
    if summary:
        parts.append(pw.len_field(5, summary))
    return b"".join(parts)


# -- export ---------------------------------------------------------------------


@dataclass
class ExportResult:
    path: Path
    events: int = 0  # scalar events, not counting the file_version one
    scalars: int = 0
    tags: set[str] = field(default_factory=set)
    skipped: int = 0  # non-numeric history values left out
    damaged: int = 0  # damaged regions of the log the export read past
    media: Counter[str] = field(default_factory=Counter)  # values written, per media kind
    media_skipped: int = 0  # media items left out (file missing, a format TensorBoard lacks)
    notes: list[str] = field(default_factory=list)


def event_file_name(created: float, hostname: str | None = None) -> str:
    host = hostname or socket.gethostname()
    return f"events.out.tfevents.{int(created)}.{host}.runwal"


def export_run(
    run: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, hostname: str | None = None
) -> ExportResult:
    """Write the run's history to ``out_dir/events.out.tfevents.<created>.<host>.runwal``.

    The name derives from the run's creation time, so exporting again replaces
    the file (written to a temp name, then renamed) instead of adding a second
    copy that TensorBoard would draw twice.
    """
    rd = RunDir.open(run)
    notes = []
    try:
        created = _plausible_time(rd.identity().get("created"))
    except (SchemaError, RecursionError) as exc:  # the log may still be fine
        notes.append(f"run.json unreadable ({exc or 'nested too deep'}); "
                     "the file is named after the first record's time")
        created = None
    if created is None:
        created = _first_ts(rd)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult(out / event_file_name(created, hostname), notes=notes)
    tmp = result.path.with_name(result.path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(tfrecord.frame(encode_event(float(created), file_version=FILE_VERSION)))
            _write_history(rd, fh, result, rd.label)
            if rd.parent_run() is None:
                for stream in rd.streams():
                    _write_history(stream, fh, result, stream.label)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, result.path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return result


def _write_history(rd: RunDir, fh: IO[bytes], result: ExportResult, label: str) -> None:
    """One stream's history and media; ``label`` (a writer stream's) names its tags."""
    for ev in iter_run_log(rd.log_dir):
        if not isinstance(ev, Frame):
            if not isinstance(ev, Incomplete):
                result.damaged += 1
            continue
        chunk = []
        for raw in ev.records:
            if raw.type not in (RecordType.MEDIA, RecordType.HISTORY):
                continue
            rec = namespaced(raw, label)
            if rec.type == RecordType.MEDIA:
                chunk += _media_event(rd, rec, result)
                continue
            if body_problem(raw.type, raw.body) is not None:
                continue
            step, data = rec.body["step"], rec.body["data"]
            scalars = []
            for tag, value in _tagged(data, label):
                num = as_number(value)
                if num is None:
                    result.skipped += 1
                    continue
                scalars.append((tag, num))
                result.tags.add(tag)
            if not scalars:
                continue
            chunk.append(tfrecord.frame(encode_event(rec.ts, step=step, scalars=scalars)))
            result.events += 1
            result.scalars += len(scalars)
        if chunk:
            fh.write(b"".join(chunk))


def _tagged(data: dict[Any, Any], label: str) -> list[tuple[str, Any]]:
    """(tag, value) of a history record's data; a stream's, which `namespaced` put
    under its label, as ``label/key``."""
    if not label:
        return [(key_text(k), v) for k, v in data.items()]
    inner = data.get(label)
    return [(f"{label}/{key_text(k)}", v) for k, v in inner.items()] \
        if isinstance(inner, dict) else []


def _media_event(rd: RunDir, rec: Record, result: ExportResult) -> list[bytes]:
    step = rec.body.get("step") if isinstance(rec.body, dict) else None
    if type(step) is not int:
        return []
    kind, values, skipped = media_values(rd.path, rec, result.notes)
    result.media_skipped += skipped
    if not values:
        return []
    result.media[kind] += len(values)
    result.tags.add(key_text(rec.body.get("key")))
    return [tfrecord.frame(encode_event(rec.ts, step=step, values=values))]


def _first_ts(rd: RunDir) -> float:
    for ev in iter_run_log(rd.log_dir):
        if isinstance(ev, Frame):
            for rec in ev.records:
                ts = _plausible_time(rec.ts)
                if ts is not None:
                    return ts
    return 0.0


def _plausible_time(value: Any) -> float | None:
    """``value`` as Unix seconds if it can name a file (0 .. year 5138), else None:
    a forged run.json or record may carry NaN, infinities or 1e300."""
    ts = finite_number(value)
    return ts if ts is not None and 0 <= ts < 1e11 else None
