"""What ``runwal verify`` finds in a run: frames, seqs, damage, torn tails, notes.

`VerifyReport.read(rd)` walks the log once with `schema.reader.iter_run_log`
and keeps the counts, every damaged region and torn tail, and a note for each
record whose body a consumer cannot use (`schema.records.body_problem`), and a
note for each file a ``media`` or ``artifact`` record names that ``files/`` does
not hold as the record says (missing, a link, another size or sha256:
`syncer.inspect.mediafiles`; notes, not damage: the log itself is intact); how many records
the damage cost is `schema.events.records_lost`, the one computation ``show``,
``dump`` and the syncer share. The text of the report is
`syncer.cli.text.verify_text`; `damage_json` is also what ``show --json`` lists.

Schema-only on purpose (no click), like runview.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schema.errors import SchemaError
from schema.events import Corrupt, Damage, Frame, Incomplete, RunEvent, records_lost
from schema.layout import RunDir
from schema.reader import iter_run_log
from schema.records import body_problem
from syncer.inspect.mediafiles import check_file, record_error, record_files

# Records whose body is not the shape docs/FORMAT.md gives are notes (well formed,
# not damage); past this many, one line says how many more.
MAX_BODY_NOTES = 20


@dataclass
class VerifyReport:
    """One pass over a run's log; ``status`` is the verdict (clean, torn, damaged)."""

    path: Path
    segments: int = 0
    frames: int = 0
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    damage: list[Damage] = field(default_factory=list)
    torn: list[Incomplete] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_problems: int = 0  # media/artifact files missing or not as their record says

    @classmethod
    def read(cls, rd: RunDir, events: Iterable[RunEvent] | None = None) -> VerifyReport:
        """Verify ``rd``'s log (or the given ``events`` of it) and its run.json."""
        report = cls(rd.path, segments=len(rd.segments()))
        unusable = 0
        checked: dict[tuple[str, int | None, str | None], str | None] = {}
        for ev in iter_run_log(rd.log_dir) if events is None else events:
            if isinstance(ev, Frame):
                report.frames += 1
                report.records += len(ev.records)
                for rec in ev.records:
                    problem = body_problem(rec.type, rec.body)
                    if problem is not None:
                        unusable += 1
                        if unusable <= MAX_BODY_NOTES:
                            report.notes.append(f"seq {rec.seq}: {problem} (consumers skip it)")
                    error = record_error(rec)
                    if error is not None:
                        report.file_problems += 1
                        if report.file_problems <= MAX_BODY_NOTES:
                            report.notes.append(error)
                    for ref in record_files(rec):
                        if ref not in checked:  # content-addressed: many records, one file
                            checked[ref] = check_file(rd.path, ref)
                        why = checked[ref]
                        if why is not None:
                            report.file_problems += 1
                            if report.file_problems <= MAX_BODY_NOTES:
                                report.notes.append(f"seq {rec.seq}: {rec.kind} file: {why}")
                if ev.records:  # the seqs of records read, as show counts them
                    if report.first_seq is None:
                        report.first_seq = ev.records[0].seq
                    report.last_seq = ev.records[-1].seq
            elif isinstance(ev, Incomplete):
                report.torn.append(ev)
            else:
                report.damage.append(ev)
        if report.file_problems > MAX_BODY_NOTES:
            report.notes.append(f"... and {report.file_problems - MAX_BODY_NOTES} more media or "
                                "artifact files missing or not as recorded")
        if unusable > MAX_BODY_NOTES:
            report.notes.append(f"... and {unusable - MAX_BODY_NOTES} more records whose body "
                                "is not the documented shape")
        try:
            if not rd.run_json.exists():
                report.notes.append("no run.json (identity falls back to the directory name)")
            else:
                rd.identity()
        except SchemaError as exc:
            report.notes.append(f"run.json: {exc}")
        except RecursionError:
            report.notes.append("run.json: unreadable: nested too deep")
        return report

    @property
    def status(self) -> str:
        """"damaged" (exit 1), "torn" (a torn tail only) or "clean"."""
        return "damaged" if self.damage else ("torn" if self.torn else "clean")

    @property
    def lost_records(self) -> int:
        return records_lost(self.damage)

    @property
    def gaps(self) -> int:
        """Damaged regions that lost (or may have lost) records."""
        return sum(1 for d in self.damage if d.seqs_lost != 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "status": self.status, "segments": self.segments,
            "frames": self.frames, "records": self.records, "first_seq": self.first_seq,
            "last_seq": self.last_seq, "gaps": self.gaps, "lost_records": self.lost_records,
            "damage": [damage_json(d) for d in self.damage],
            "torn": [{"segment": t.segment, "offset": t.offset, "bytes": t.available,
                      "first_seq": t.first_seq, "last_seq": t.last_seq} for t in self.torn],
            "notes": self.notes, "file_problems": self.file_problems,
        }


def damage_json(d: Damage) -> dict[str, Any]:
    """One damaged region as ``verify --json`` and ``show --json`` list it."""
    return {"kind": "corrupt" if isinstance(d, Corrupt) else "segment", "segment": d.segment,
            "offset": d.offset, "skipped": d.skipped if isinstance(d, Corrupt) else None,
            "first_lost": d.first_lost, "last_lost": d.last_lost, "seqs_lost": d.seqs_lost,
            "last_known": d.last_known, "known_lost": d.known_lost, "reason": d.reason}
