"""What ``runwal verify`` finds in a run: frames, seqs, damage, torn tails, notes.

`VerifyReport.read(rd)` walks the log once with `schema.reader.iter_run_log`
and keeps the counts, every damaged region and torn tail, and a note for each
record whose body a consumer cannot use (`schema.records.body_problem`), and a
note for each file a ``media`` or ``artifact`` record, or the last ``file``
record of a saved path, names that ``files/`` does not hold as the record says
(missing, a link, another size or sha256: `syncer.inspect.mediafiles`; notes,
not damage: the log itself is intact); how many records
the damage cost is `schema.events.records_lost`, the one computation ``show``,
``dump`` and the syncer share. The text of the report is
`syncer.cli.text.verify_text`; `damage_json` is also what ``show --json`` lists.

A shared run (docs/FORMAT.md, "Streams") is verified stream by stream: the
report of the run's own log (the primary stream) holds one report per other
writer stream in ``streams``, each read the same way from
``streams/<label>/log`` and checked against that stream's own ``files/``; the
run's ``status`` is the worst of them all. A stream directory verified on its
own knows its run (``stream_of``).

Schema-only on purpose (no click), like runview.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schema.errors import SchemaError
from schema.events import Corrupt, Damage, Frame, Incomplete, RunEvent, records_lost
from schema.layout import PRIMARY_STREAM, RunDir
from schema.reader import iter_run_log
from schema.records import body_problem
from syncer.inspect.mediafiles import check_file, record_error, record_files, saved_file

# Records whose body is not the shape docs/FORMAT.md gives are notes (well formed,
# not damage); past this many, one line says how many more.
MAX_BODY_NOTES = 20
_SEVERITY = {"clean": 0, "torn": 1, "damaged": 2}


def worst(statuses: Iterable[str]) -> str:
    """The worst of verify statuses: damaged > torn > clean."""
    return max(statuses, key=_SEVERITY.__getitem__, default="clean")


@dataclass
class VerifyReport:
    """One pass over a run's log; ``status`` is the verdict (clean, torn, damaged).

    ``streams`` holds a shared run's other writer streams' reports, in label
    order (each with its ``label``); ``stream_of`` is the run of a stream
    directory verified on its own.
    """

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
    label: str = PRIMARY_STREAM
    streams: list[VerifyReport] = field(default_factory=list)
    stream_of: Path | None = None
    run_id: str | None = None  # of ``stream_of``: its run.json's, else its directory name

    @classmethod
    def read(cls, rd: RunDir, events: Iterable[RunEvent] | None = None) -> VerifyReport:
        """Verify ``rd``'s log (or the given ``events`` of it) and its run.json, then
        each of its writer streams; a stream directory alone when ``rd`` is one."""
        parent = rd.parent_run()
        report = cls._read_one(rd, events, stream=parent is not None)
        if parent is not None:
            report.label, report.stream_of = rd.label, parent.path
            try:
                report.run_id = str(parent.identity().get("run_id") or parent.path.name)
            except (SchemaError, RecursionError):
                report.run_id = parent.path.name
            return report
        for stream in rd.streams():
            sub = cls._read_one(stream, None, stream=True)
            sub.label = stream.label
            report.streams.append(sub)
        return report

    @classmethod
    def _read_one(cls, rd: RunDir, events: Iterable[RunEvent] | None, *, stream: bool
                  ) -> VerifyReport:
        """One stream's log (and, unless ``stream``, the run's run.json)."""
        report = cls(rd.path, segments=len(rd.segments()))
        unusable = 0
        checked: dict[tuple[str, int | None, str | None], str | None] = {}
        saved: dict[str, tuple[int, tuple[str, int | None, str | None]]] = {}
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
                    ref_saved = saved_file(rec)
                    if ref_saved is not None:  # a later save of the path replaces its bytes
                        saved[ref_saved[0]] = (rec.seq, ref_saved)
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
        for seq, ref in sorted(saved.values()):  # each saved path as its last record says
            why = check_file(rd.path, ref)
            if why is not None:
                report.file_problems += 1
                if report.file_problems <= MAX_BODY_NOTES:
                    report.notes.append(f"seq {seq}: saved file: {why}")
        if report.file_problems > MAX_BODY_NOTES:
            report.notes.append(f"... and {report.file_problems - MAX_BODY_NOTES} more media, "
                                "artifact or saved files missing or not as recorded")
        if unusable > MAX_BODY_NOTES:
            report.notes.append(f"... and {unusable - MAX_BODY_NOTES} more records whose body "
                                "is not the documented shape")
        if stream:  # a writer stream has no run.json of its own (its run has it)
            return report
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
    def own_status(self) -> str:
        """This stream's verdict: "damaged", "torn" (a torn tail only) or "clean"."""
        return "damaged" if self.damage else ("torn" if self.torn else "clean")

    @property
    def status(self) -> str:
        """The worst verdict of this log and its streams: "damaged" (exit 1), "torn"
        or "clean"."""
        return worst([self.own_status, *(s.status for s in self.streams)])

    @property
    def lost_records(self) -> int:
        return records_lost(self.damage)

    @property
    def gaps(self) -> int:
        """Damaged regions that lost (or may have lost) records."""
        return sum(1 for d in self.damage if d.seqs_lost != 0)

    def to_json(self) -> dict[str, Any]:
        """``verify --json``: this log's report, ``status`` the worst of all, and
        ``streams`` {label: the same shape} (``{}`` for a run of one stream);
        a stream directory verified on its own adds ``label``, ``stream_of`` and
        ``run_id`` (its run's)."""
        out = self._own_json()
        out["streams"] = {s.label: s.to_json() for s in self.streams}
        if self.stream_of is not None:
            out.update(label=self.label, stream_of=str(self.stream_of), run_id=self.run_id)
        return out

    def _own_json(self) -> dict[str, Any]:
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
