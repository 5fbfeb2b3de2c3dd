"""``runwal dump RUN``: the records as JSON lines (shapes in `syncer.inspect.dumpformat`).

A shared run is dumped stream by stream: the run's own log (the primary
stream), then each writer stream under ``streams/`` in label order, every line
of those with ``"label": LABEL`` after seq/type/ts (`stream_line`). The key is
``label``, not ``stream``: console records (every rank's output) have a
``stream`` of their own (stdout/stderr), and ``jq .text`` must keep working.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from schema.events import Frame, Incomplete
from schema.layout import PRIMARY_STREAM, RunDir
from schema.reader import iter_run_log
from schema.records import Record
from syncer.cli.common import dumps, open_run, user_errors
from syncer.errors import BadOption
from syncer.inspect.dumpformat import parse_types, record_json, wanted
from syncer.inspect.spelling import spell

PRIMARY_NAME = "primary"  # --stream primary: the run's own log (its label is "")
_HEAD = ("seq", "type", "type_id", "ts")


def stream_line(rec: Record, label: str) -> dict[str, Any]:
    """``rec`` of writer stream ``label`` as one dump line: `record_json`'s with
    ``"label": label`` after seq/type/ts. A body whose spread fields hold a
    ``label`` of its own goes whole under ``"body"``, as a body naming seq/type/ts
    does."""
    line = record_json(rec)
    if not label:
        return line
    head = {k: line.pop(k) for k in _HEAD if k in line}
    if "label" in line:
        return {**head, "label": label, "body": spell(rec.body)}
    return {**head, "label": label, **line}


def pick_streams(rd: RunDir, stream: str | None) -> list[RunDir]:
    """The logs to dump: the run's own and its streams', or the one ``--stream`` names."""
    parent = rd.parent_run()
    logs = [rd] if parent is not None else [rd, *rd.streams()]
    if stream is None:
        return logs
    chosen = [s for s in logs if s.label == stream]
    if not chosen and stream == PRIMARY_NAME:  # "" always names it; a stream may be "primary"
        chosen = [s for s in logs if s.label == PRIMARY_STREAM]
    if not chosen:
        names = [s.label or PRIMARY_NAME for s in logs]
        raise BadOption(f"{rd.path} has no stream {stream!r}",
                        hint="its streams: " + ", ".join(names))
    return chosen


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--type", "types", multiple=True, metavar="T",
              help="Only records of type T (name or number; repeat or comma-separate).")
@click.option("--from-seq", type=click.IntRange(min=0), default=0, metavar="N",
              help="Start at sequence number N (of each stream).")
@click.option("--stream", metavar="LABEL", default=None,
              help="Only the writer stream LABEL of a shared run (\"primary\": the run's own).")
@user_errors
def dump(run: Path, types: tuple[str, ...], from_seq: int, stream: str | None) -> None:
    """Print RUN's records as JSON lines, in seq order.

    \b
    Every line has "seq", "type" (a name) and "ts" (Unix seconds), then:
      history                 "step", "data" {key: value}
      config, summary, stats  "data": the record's delta / sample
      media                   "key", "step", "kind", "items" (file, size, sha256,
                              width, caption, ...; a histogram's bins and counts)
      artifact, artifact_use  "name", "artifact_type" (the body's "type"), "version",
                              "digest", "aliases", "entries" / "source_run", ...
      others                  the body's fields spread on the line
      unknown types           "type": "unknown", "type_id": N, "body": raw body
    Strict JSON: NaN and infinities are written as the strings "NaN",
    "Infinity", "-Infinity"; bytes as "base64:..."; msgpack ext values as
    {"$ext": CODE, "base64": "..."}; map keys that are not strings as text
    ("1", "true", "null", "2.5"); lone surrogates as U+FFFD.

    \b
    A shared run: the run's own records, then each writer stream's
    (streams/LABEL/, label order, seqs of its own), those lines with
    "label": LABEL after "ts" (a body with a "label" field of its own then
    goes under "body").
    --stream LABEL dumps one stream ("primary" or "" the run's own).

    Damage and torn tails are reported as notes on stderr; the dump goes on.

    \b
    Exit status: 0 ok (also for a damaged run); 2 RUN is not a run directory,
    a bad --type or no such --stream.
    """
    types_wanted = parse_types(types)
    rd = open_run(run)
    out = sys.stdout
    unknown_noted = False
    for log in pick_streams(rd, stream):
        label = log.label
        where = f"stream {label}: " if label else ""
        for ev in iter_run_log(log.log_dir):
            if isinstance(ev, Frame):
                lines = []
                for rec in ev.records:
                    if rec.seq < from_seq or not wanted(rec, types_wanted):
                        continue
                    if rec.kind is None and not unknown_noted:
                        unknown_noted = True
                        click.echo(f"runwal: note: {where}seq {rec.seq} has record type "
                                   f"{rec.type}, unknown to this runwal; dumped with its raw "
                                   "body", err=True)
                    lines.append(dumps(stream_line(rec, label)))
                if lines:
                    out.write("\n".join(lines) + "\n")
            elif isinstance(ev, Incomplete):
                click.echo(f"runwal: note: {where}{ev.describe()}", err=True)
            else:
                out.flush()
                click.echo(f"runwal: note: {where}damage: {ev.describe()}", err=True)
    out.flush()
