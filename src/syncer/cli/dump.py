"""``runwal dump RUN``: the records as JSON lines (shapes in `syncer.inspect.dumpformat`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from schema.events import Frame, Incomplete
from schema.reader import iter_run_log
from syncer.cli.common import dumps, open_run, user_errors
from syncer.inspect.dumpformat import parse_types, record_json, wanted


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--type", "types", multiple=True, metavar="T",
              help="Only records of type T (name or number; repeat or comma-separate).")
@click.option("--from-seq", type=click.IntRange(min=0), default=0, metavar="N",
              help="Start at sequence number N.")
@user_errors
def dump(run: Path, types: tuple[str, ...], from_seq: int) -> None:
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

    Damage and torn tails are reported as notes on stderr; the dump goes on.

    \b
    Exit status: 0 ok (also for a damaged run); 2 RUN is not a run directory
    or a bad --type.
    """
    types_wanted = parse_types(types)
    rd = open_run(run)
    out = sys.stdout
    unknown_noted = False
    for ev in iter_run_log(rd.log_dir):
        if isinstance(ev, Frame):
            lines = []
            for rec in ev.records:
                if rec.seq < from_seq or not wanted(rec, types_wanted):
                    continue
                if rec.kind is None and not unknown_noted:
                    unknown_noted = True
                    click.echo(f"runwal: note: seq {rec.seq} has record type {rec.type}, unknown "
                               "to this runwal; dumped with its raw body", err=True)
                lines.append(dumps(record_json(rec)))
            if lines:
                out.write("\n".join(lines) + "\n")
        elif isinstance(ev, Incomplete):
            click.echo(f"runwal: note: {ev.describe()}", err=True)
        else:
            out.flush()
            click.echo(f"runwal: note: damage: {ev.describe()}", err=True)
    out.flush()
