"""What ``ls``, ``show`` and ``verify`` print, as text and as JSON.

Kept apart from the click commands (cli.py) so that the layout can be read
and tested without a command line, and from the primitives (render.py) so
that each file holds one concept.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from schema.errors import SchemaError
from schema.layout import RunDir
from schema.reader import Corrupt, Frame, Incomplete, RunEvent, SegmentDamaged
from schema.segment import parse_segment_name
from syncer.cli import render
from syncer.inspect.runview import MetricStats, RunView, disk_usage, sync_checkpoints, sync_state

SPARK_WIDTH = 30


def ls_table(rows: list[dict[str, Any]]) -> str:
    body = [
        (r["run_id"], r.get("project"), r.get("name"), render.timestamp(r["created"]),
         r["status"], r.get("steps"), r.get("records"),
         render.size(r["size"]) if r.get("size") is not None else None,
         r.get("health"), r.get("sync"))
        for r in rows
    ]
    heads = ("RUN", "PROJECT", "NAME", "CREATED", "STATUS", "STEPS", "RECORDS", "SIZE",
             "HEALTH", "SYNC")
    return render.table(body, heads, right={5, 6, 7})


# -- show ---------------------------------------------------------------------------


def damage_json(d: Corrupt | SegmentDamaged) -> dict[str, Any]:
    if isinstance(d, Corrupt):
        return {"kind": "corrupt", "segment": d.segment, "offset": d.offset,
                "skipped": d.skipped, "first_lost": d.first_lost, "last_lost": d.last_lost,
                "seqs_lost": d.seqs_lost, "reason": d.reason}
    # The reader knows no expected seq before the first segment; the name says it.
    first = d.first_lost if d.first_lost is not None else parse_segment_name(d.segment)
    lost = None
    if first is not None and d.last_lost is not None:
        lost = max(0, d.last_lost - first + 1)
    reason = d.error.args[0] if d.error.args else str(d.error)
    return {"kind": "segment", "segment": d.segment, "offset": 0, "skipped": None,
            "first_lost": first, "last_lost": d.last_lost, "seqs_lost": lost,
            "reason": f"unreadable segment header: {reason}"}


def damage_line(d: Corrupt | SegmentDamaged) -> str:
    j = damage_json(d)
    if j["first_lost"] is None:
        lost = "unknown seqs"
    elif j["last_lost"] is None:
        lost = f"seqs from {j['first_lost']} on"
    elif j["seqs_lost"] == 0:
        lost = "no records"
    else:
        lost = f"seqs {j['first_lost']}..{j['last_lost']} ({j['seqs_lost']} records)"
    skipped = "whole segment" if j["skipped"] is None else f"skipped {j['skipped']} bytes"
    return f"{j['segment']} offset {j['offset']}: {j['reason']}; {skipped}, lost {lost}"


def show_json(view: RunView) -> dict[str, Any]:
    return {
        "path": str(view.path),
        "identity": view.identity,
        "run": view.run,
        "resumes": view.resumes,
        "status": view.status,
        "exit_code": view.exit_code,
        "runtime": view.runtime,
        "config": view.config,
        "summary": view.final_summary,
        "metrics": {k: _metric_json(m) for k, m in sorted(view.metrics.items())},
        "system": {k: _metric_json(m) for k, m in sorted(view.system.items())},
        "metric_defs": view.metric_defs,
        "files": list(view.files.values()),
        "console_lines": view.console_line_count,
        "alerts": view.alerts,
        "counts": {"segments": len(view.segments), "frames": view.frames,
                   "records": view.records, "history": view.history_count,
                   "by_type": dict(view.by_type),
                   "unknown_types": {str(k): n for k, n in view.unknown_types.items()}},
        "first_seq": view.first_seq,
        "last_seq": view.last_seq,
        "last_step": view.last_step,
        "damage": [damage_json(d) for d in view.damage],
        "torn": [{"segment": t.segment, "offset": t.offset} for t in view.torn],
        "notes": view.notes,
        "identity_error": view.identity_error,
        "size": disk_usage(view.path),
        "sync": {"state": sync_state(view), "checkpoints": sync_checkpoints(view.path)},
    }


def _metric_json(m: MetricStats) -> dict[str, Any]:
    return {**m.to_json(), "samples": m.samples.values()}


def show_text(view: RunView) -> str:
    out: list[str] = []
    ident, run = view.identity, view.run
    project = ident.get("project") or run.get("project") or "-"
    name = ident.get("name") or run.get("name") or "-"
    out.append(f"run {view.run_id}  ({project} / {name})")
    status = view.status
    if view.exit_code is not None:
        status += f" (exit code {view.exit_code})"
    pairs: list[tuple[str, Any]] = [
        ("path", view.path),
        ("created", render.iso(view.created)),
        ("status", f"{status}, runtime {render.duration(view.runtime)}"),
        ("log", f"{render.plural(view.records, 'record')} in "
                f"{render.plural(view.frames, 'frame')}, "
                f"{render.plural(len(view.segments), 'segment')}, "
                f"seqs {_span(view.first_seq, view.last_seq)}"),
        ("sync", sync_state(view)),
    ]
    out.append(_pairs(pairs + _run_meta(run, view)))
    out += _section(f"config ({len(view.config)})", _kv(view.config))
    out += _metrics_section("metrics", view.metrics, view)
    out += _metrics_section("system metrics", view.system, None)
    out += _section(f"summary ({len(view.final_summary)})", _kv(view.final_summary))
    out += _section(f"files ({len(view.files)})", [
        f"  {p}  {render.size(int(f.get('size') or 0))}"
        + ("" if (view.path / "files" / p).exists() else "  [missing from files/]")
        for p, f in view.files.items()])
    lines = view.console_line_count
    if lines:
        counts = ", ".join(f"{s}: {render.plural(n, 'line')}" for s, n in lines.items())
        out += _section("console", [f"  {counts}"])
    out += _section(f"alerts ({len(view.alerts)})", [
        f"  {render.timestamp(a.get('ts'))}  {a.get('level', '')}  {a.get('title', '')}: "
        f"{render.short(a.get('text', ''), 70)}" for a in view.alerts])
    if view.damage or view.torn:
        dmg = [f"  {damage_line(d)}" for d in view.damage[:10]]
        if len(view.damage) > 10:
            dmg.append(f"  ... and {len(view.damage) - 10} more (runwal verify {view.path})")
        dmg += [f"  torn tail at {t.segment} offset {t.offset}" for t in view.torn]
        out += _section(f"damage ({len(view.damage)} regions, {view.lost_records} records lost)",
                        dmg)
    notes = list(view.notes)
    if view.identity_error:
        notes.insert(0, view.identity_error)
    notes += [f"{n} records of type {t}, unknown to this runwal, skipped"
              for t, n in sorted(view.unknown_types.items())]
    out += _section("notes", [f"  {n}" for n in notes])
    return "\n".join(out)


def _span(first: int | None, last: int | None) -> str:
    return "-" if first is None else f"{first}..{last}"


def _run_meta(run: dict[str, Any], view: RunView) -> list[tuple[str, Any]]:
    if not run:
        return []
    pairs: list[tuple[str, Any]] = []
    host = " ".join(f"{k} {run[k]}" for k in ("user", "pid", "python") if run.get(k) is not None)
    pairs.append(("host", f"{run.get('host', '-')}  {host}".rstrip()))
    argv = run.get("argv")
    if isinstance(argv, list):
        pairs.append(("command", shlex.join(str(a) for a in argv)))
    git = run.get("git")
    if isinstance(git, dict) and git.get("commit"):
        dirty = ", dirty" if git.get("dirty") else ""
        pairs.append(("git", f"{git.get('commit')} ({git.get('branch') or '-'}{dirty}) "
                             f"{git.get('remote') or ''}".rstrip()))
    for key in ("cwd", "executable", "os", "mode", "group", "job_type", "tags", "notes"):
        val = run.get(key)
        if val not in (None, "", [], {}):
            pairs.append((key, ", ".join(map(str, val)) if isinstance(val, list) else val))
    if view.resumes:
        pairs.append(("resumed", f"{len(view.resumes)} times"))
    return pairs


def _pairs(pairs: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"  {k.ljust(width)}  {render.short(v, 90)}" for k, v in pairs)


def _kv(d: dict[str, Any]) -> list[str]:
    if not d:
        return []
    width = min(40, max(len(str(k)) for k in d))
    return [f"  {str(k).ljust(width)}  {render.short(v, 70)}" for k, v in sorted(d.items())]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", title, *lines] if lines else []


def _metrics_section(title: str, metrics: dict[str, MetricStats], view: RunView | None
                     ) -> list[str]:
    if not metrics:
        return []
    rows = [(k, m.count, m.last, m.min, m.max, render.sparkline(m.samples.values(), SPARK_WIDTH))
            for k, m in sorted(metrics.items())]
    head = f"{title} ({len(metrics)} keys"
    if view is not None:
        head += f", {view.history_count} steps, last step {render.cell(view.last_step)}"
    return ["", head + ")",
            render.table(rows, ("KEY", "COUNT", "LAST", "MIN", "MAX", ""), right={1, 2, 3, 4},
                         indent="  ")]


# -- verify -------------------------------------------------------------------------


def verify_report(rd: RunDir, events: Iterable[RunEvent]) -> dict[str, Any]:
    """Walk ``events`` once; the JSON report plus its text under ``"text"``."""
    frames = records = 0
    first = last = None
    damage: list[Corrupt | SegmentDamaged] = []
    torn: list[Incomplete] = []
    for ev in events:
        if isinstance(ev, Frame):
            frames += 1
            records += len(ev.records)
            first = ev.base_seq if first is None else first
            last = ev.next_seq - 1
        elif isinstance(ev, Incomplete):
            torn.append(ev)
        else:
            damage.append(ev)
    notes = []
    try:
        if not rd.run_json.exists():
            notes.append("no run.json (identity falls back to the directory name)")
        else:
            rd.identity()
    except SchemaError as exc:
        notes.append(f"run.json: {exc}")
    segments = len(rd.segments())
    lost = sum(int(d["seqs_lost"] or 0) for d in map(damage_json, damage))
    status = "damaged" if damage else ("torn" if torn else "clean")
    report: dict[str, Any] = {
        "path": str(rd.path), "status": status, "segments": segments, "frames": frames,
        "records": records, "first_seq": first, "last_seq": last,
        "gaps": sum(1 for d in damage if damage_json(d)["seqs_lost"] != 0),
        "lost_records": lost, "damage": [damage_json(d) for d in damage],
        "torn": [{"segment": t.segment, "offset": t.offset, "bytes": t.available} for t in torn],
        "notes": notes,
    }
    lines = [f"{rd.path}: {render.plural(segments, 'segment')}, "
             f"{render.plural(frames, 'frame')}, {render.plural(records, 'record')}, "
             f"seqs {_span(first, last)}"]
    lines += [f"damage: {damage_line(d)}" for d in damage]
    lines += [f"torn tail at {t.segment} offset {t.offset} (normal after a crash or while the "
              f"run is live)" for t in torn]
    lines += [f"note: {n}" for n in notes]
    if damage:
        lines.append(f"DAMAGED: {len(damage)} damaged regions, {report['gaps']} seq gaps, "
                     f"{lost} records known lost")
    elif not torn:
        lines.append("clean")
    report["text"] = "\n".join(lines)
    return report
