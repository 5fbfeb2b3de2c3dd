"""What ``ls``, ``show`` and ``verify`` print, as text and as JSON.

Rendering only: what is printed is computed in `syncer.inspect` (the run
view, the verify report). Kept apart from the click commands (one module per
subcommand in this package) so that the layout can be read and tested
without a command line, and from the primitives (render.py) so that each
file holds one concept. A damaged region is worded by its own ``describe()``
(`schema.events`), the same line dump and sync print.
"""

from __future__ import annotations

import shlex
from typing import Any

from syncer.cli import render
from syncer.inspect.mediafiles import exists
from syncer.inspect.runview import MetricStats, RunView, disk_usage, sync_checkpoints, sync_state
from syncer.inspect.spelling import key_text, spell, terminal_text
from syncer.inspect.verify import VerifyReport, damage_json

SPARK_WIDTH = 30


def ls_table(rows: list[dict[str, Any]]) -> str:
    """The ``ls`` table; a shared run's id ends in ``+N``, its other writer streams."""
    body = [
        (r["run_id"] + (f" +{r['streams']}" if r.get("streams") else ""), r.get("project"),
         r.get("name"), render.timestamp(r["created"]),
         r["status"], r.get("steps"), r.get("records"),
         render.size(r["size"]) if r.get("size") is not None else None,
         r.get("health"), r.get("sync"))
        for r in rows
    ]
    heads = ("RUN", "PROJECT", "NAME", "CREATED", "STATUS", "STEPS", "RECORDS", "SIZE",
             "HEALTH", "SYNC")
    return terminal_text(render.table(body, heads, right={5, 6, 7}))


# -- show ---------------------------------------------------------------------------


def show_json(view: RunView) -> dict[str, Any]:
    """What ``show --json`` prints, spelled as every command spells values (spelling.py).
    A stream directory shown on its own adds ``label`` and ``stream_of`` (its run)."""
    where = {} if view.stream_of is None else {"label": view.label,
                                                "stream_of": str(view.stream_of)}
    return spell({
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
        "media": view.media,
        "artifacts": view.artifacts,
        "artifact_uses": view.artifact_uses,
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
        "streams": {sv.label: _stream_json(sv) for sv in view.streams},
        **where,
    })


def _stream_json(sv: RunView) -> dict[str, Any]:
    """One writer stream of a shared run, as ``show --json`` lists it under its label."""
    facts = _stream_facts(sv)
    return {
        "path": str(sv.path), "host": sv.run.get("host"),
        **{k: facts.get(k) for k in ("rank", "local_rank", "world_size", "node_rank")},
        "status": sv.status, "exit_code": sv.exit_code, "runtime": sv.runtime,
        "records": sv.records, "steps": sv.step_count, "last_step": sv.last_step,
        "first_seq": sv.first_seq, "last_seq": sv.last_seq,
        "console_lines": sv.console_line_count,
        "damage": [damage_json(d) for d in sv.damage],
        "torn": [{"segment": t.segment, "offset": t.offset} for t in sv.torn],
        "notes": sv.notes,
        "sync": {"state": sync_state(sv), "checkpoints": sync_checkpoints(sv.path)},
    }


def _stream_facts(view: RunView) -> dict[str, Any]:
    """The ``stream`` object of a stream's run record ({} when it has none)."""
    facts = view.run.get("stream")
    return facts if isinstance(facts, dict) else {}


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
    if view.stream_of is not None:
        pairs.insert(1, ("stream", f"{view.label} of run {view.run_id} ({view.stream_of})"))
    out.append(_pairs(pairs + _run_meta(run, view)))
    out += _section(f"config ({len(view.config)})", _kv(view.config))
    out += _metrics_section("metrics", view.metrics, view)
    out += _metrics_section("system metrics", view.system, None)
    out += _section(f"summary ({len(view.final_summary)})", _kv(view.final_summary))
    out += _section(f"files ({len(view.files)})", [
        f"  {p}  {render.size(int(f.get('size') or 0))}"
        + ("" if (view.path / "files" / p).exists() else "  [missing from files/]")
        for p, f in view.files.items()])
    out += _media_section(view)
    out += _artifacts_section(view)
    lines = view.console_line_count
    if lines:
        counts = ", ".join(f"{s}: {render.plural(n, 'line')}" for s, n in lines.items())
        out += _section("console", [f"  {counts}"])
    out += _streams_section(view)
    out += _section(f"alerts ({len(view.alerts)})", [
        f"  {render.timestamp(a.get('ts'))}  {a.get('level', '')}  {a.get('title', '')}: "
        f"{render.short(a.get('text', ''), 70)}" for a in view.alerts])
    damaged = [view, *view.streams]
    if any(v.damage or v.torn for v in damaged):
        dmg = []
        for v in damaged:
            where = f"stream {v.label}: " if v.label and v is not view else ""
            dmg += [f"  {where}{d.describe()}" for d in v.damage[:10]]
            if len(v.damage) > 10:
                dmg.append(f"  {where}... and {len(v.damage) - 10} more "
                           f"(runwal verify {view.path})")
            dmg += [f"  {where}{t.describe()}" for t in v.torn]
        regions = sum(len(v.damage) for v in damaged)
        lost = sum(v.lost_records for v in damaged)
        out += _section(f"damage ({render.plural(regions, 'region')}, "
                        f"{render.plural(lost, 'record')} lost)", dmg)
    notes = list(view.notes)
    if view.identity_error:
        notes.insert(0, view.identity_error)
    notes += [f"{render.plural(n, 'record')} of type {t}, unknown to this runwal, skipped"
              for t, n in sorted(view.unknown_types.items())]
    out += _section("notes", [f"  {n}" for n in notes])
    return terminal_text("\n".join(out))


def _streams_section(view: RunView) -> list[str]:
    """A shared run's writer streams, the run's own first (labelled "primary")."""
    if not view.streams:
        return []
    rows = []
    for sv in [view, *view.streams]:
        lines = sv.console_line_count
        console = ", ".join(f"{s} {n}" for s, n in lines.items()) if lines else "-"
        health = " (damaged)" if sv.damage else (" (torn)" if sv.torn else "")
        rows.append((sv.label or "primary", sv.run.get("host"), _stream_facts(sv).get("rank"),
                     sv.records, sv.status + health, console))
    return ["", f"streams ({len(rows)})",
            render.table(rows, ("STREAM", "HOST", "RANK", "RECORDS", "STATUS", "CONSOLE LINES"),
                         right={2, 3}, indent="  ")]


def _media_section(view: RunView) -> list[str]:
    if not view.media:
        return []
    rows = []
    for key, m in sorted(view.media.items()):
        last = m.get("last_file")
        if last is not None and not exists(view.path, str(last)):
            last = f"{last}  [missing from files/]"
        rows.append((key, m.get("kind"), m["records"], m["items"], m.get("last_step"), last))
    return ["", f"media ({render.plural(len(view.media), 'key')})",
            render.table(rows, ("KEY", "KIND", "RECORDS", "ITEMS", "LAST STEP", "LAST FILE"),
                         right={2, 3, 4}, indent="  ")]


def _artifacts_section(view: RunView) -> list[str]:
    rows: list[tuple[Any, ...]] = []
    for a in view.artifacts:
        aliases = a.get("aliases")
        rows.append(("logged", f"{a.get('name')}:v{a.get('version')}", a.get("type"),
                     _entries(int(a.get("entries") or 0)),
                     render.size(int(a.get("size") or 0)),
                     ", ".join(map(str, aliases)) if isinstance(aliases, list) else ""))
    for u in view.artifact_uses:
        rows.append(("used", f"{u.get('name')}:v{u.get('version')}", u.get("type"),
                     f"from run {u.get('source_run') or '?'}", "", f"asked {u.get('asked')}"))
    if not rows:
        return []
    title = f"artifacts ({len(view.artifacts)} logged, {len(view.artifact_uses)} used)"
    return ["", title, render.table(rows, ("", "VERSION", "TYPE", "", "SIZE", "ALIASES"),
                                    indent="  ")]


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


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
    keys = {key_text(k): v for k, v in d.items()}
    width = min(40, max(len(k) for k in keys))
    return [f"  {k.ljust(width)}  {render.short(v, 70)}" for k, v in sorted(keys.items())]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", title, *lines] if lines else []


def _metrics_section(title: str, metrics: dict[str, MetricStats], view: RunView | None
                     ) -> list[str]:
    if not metrics:
        return []
    rows = [(k, m.count, m.last, m.min, m.max, render.sparkline(m.samples.values(), SPARK_WIDTH))
            for k, m in sorted(metrics.items())]
    head = f"{title} ({render.plural(len(metrics), 'key')}"
    if view is not None:
        head += f", {view.step_count} steps, last step {render.cell(view.last_step)}"
    return ["", head + ")",
            render.table(rows, ("KEY", "COUNT", "LAST", "MIN", "MAX", ""), right={1, 2, 3, 4},
                         indent="  ")]


# -- verify -------------------------------------------------------------------------


def verify_text(report: VerifyReport) -> str:
    """The text ``runwal verify`` prints: a count line, one line per finding, a verdict.

    A shared run: the run's own log first, then per writer stream a count line and
    its findings, each prefixed ``stream LABEL: ``; the verdict sums them all and
    names the damaged streams ("primary" for the run's own log)."""
    lines: list[str] = []
    if report.stream_of is not None:
        lines.append(f"{report.path}: stream {report.label} of run {report.run_id} "
                     f"({report.stream_of})")
    lines += _verify_lines(report, f"{report.path}: ", "")
    for sub in report.streams:
        lines += _verify_lines(sub, "", f"stream {sub.label}: ")
    everything = [report, *report.streams]
    damage = sum(len(r.damage) for r in everything)
    if damage:
        gaps = sum(r.gaps for r in everything)
        lost = sum(r.lost_records for r in everything)
        where = ""
        if report.streams:
            where = " (" + ", ".join(f"stream {r.label or 'primary'}" for r in everything
                                     if r.damage) + ")"
        lines.append(f"DAMAGED: {render.plural(damage, 'damaged region')}, "
                     f"{render.plural(gaps, 'seq gap')}, "
                     f"{render.plural(lost, 'record')} known lost{where}")
    elif report.status == "clean":
        lines.append(f"clean ({len(everything)} streams)" if report.streams else "clean")
    return terminal_text("\n".join(lines))


def _verify_lines(report: VerifyReport, head: str, prefix: str) -> list[str]:
    """One stream's count line (after ``head``) and findings, each after ``prefix``."""
    lines = [f"{prefix}{head}{render.plural(report.segments, 'segment')}, "
             f"{render.plural(report.frames, 'frame')}, "
             f"{render.plural(report.records, 'record')}, "
             f"seqs {_span(report.first_seq, report.last_seq)}"]
    lines += [f"{prefix}damage: {d.describe()}" for d in report.damage]
    lines += [f"{prefix}{t.describe()} (normal after a crash or while the run is live)"
              for t in report.torn]
    lines += [f"{prefix}note: {n}" for n in report.notes]
    return lines
