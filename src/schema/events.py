"""What the reader reports, and what each piece of damage cost.

Reading a log yields, position by position and in seq order, one event each
(docs/FORMAT.md, "Reader semantics"):

* `Frame`          -- a frame whose CRCs and payload check out, with its
  well-formed records (a malformed one is reported as `Corrupt` just before);
* `Incomplete`     -- the bytes end mid-frame: a torn tail, not damage;
* `Corrupt`        -- bytes that fail the checks and were skipped, or seqs
  missing between two frames or two segments (``skipped == 0``);
* `SegmentDamaged` -- a segment whose header is unreadable (or that is no
  regular file), lost whole.

`Corrupt` and `SegmentDamaged` are `Damage`. Each names the seqs it may have
lost, ``first_lost .. last_lost`` (``last_lost`` None: up to the end of the
log, how many is unknown), and the reader reports every lost seq in exactly
one of them. This module is the one place that turns those seqs into a count
(`Damage.seqs_lost`, `records_lost`) and into a line for a human
(``describe()``), so that ``runwal show``, ``verify``, ``dump`` and the sync
engine's notes cannot disagree about a damaged run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schema.errors import BadSegmentHeader
from schema.records import Record


@dataclass(frozen=True)
class Frame:
    """One valid frame. ``records`` holds its well-formed records in seq order;
    ``count`` is the header's, so ``records`` is shorter when some were malformed
    (each reported by a `Corrupt` event of 0 bytes just before the frame)."""

    segment: str
    offset: int
    base_seq: int
    size: int
    records: list[Record] = field(repr=False)
    count: int

    @property
    def next_seq(self) -> int:
        return self.base_seq + self.count


@dataclass(frozen=True)
class Incomplete:
    segment: str
    offset: int
    available: int  # bytes present from offset to the end of the file


def seqs_lost(first_lost: int | None, last_lost: int | None) -> int | None:
    """Records in ``first_lost .. last_lost``; None when the range is open (unknown)."""
    if first_lost is None or last_lost is None:
        return None
    return max(0, last_lost - first_lost + 1)


class _Loss:
    """The part of `Corrupt` and `SegmentDamaged` that says what was lost."""

    __slots__ = ()
    segment: str
    first_lost: int | None
    last_lost: int | None

    @property
    def seqs_lost(self) -> int | None:
        """How many records were lost; None when unknown (damage to the end)."""
        return seqs_lost(self.first_lost, self.last_lost)

    def lost_text(self) -> str:
        """The seqs lost in words: ``seqs 12..15 (4 records)``, ``no records``..."""
        n = self.seqs_lost
        if self.first_lost is None:
            return "unknown seqs"
        if n is None:
            return f"seqs from {self.first_lost} on"
        if n == 0:
            return "no records"
        return f"seqs {self.first_lost}..{self.last_lost} ({n} record{'' if n == 1 else 's'})"


@dataclass(frozen=True)
class Corrupt(_Loss):
    segment: str
    offset: int
    skipped: int  # bytes skipped before the next good frame (or the end)
    first_lost: int | None  # first seq that may be lost
    last_lost: int | None  # last seq lost; None when damage runs to the end
    reason: str

    def describe(self) -> str:
        return (f"{self.segment} offset {self.offset}: {self.reason}; "
                f"skipped {self.skipped} bytes, lost {self.lost_text()}")


@dataclass(frozen=True)
class SegmentDamaged(_Loss):
    """A whole segment that cannot be read (its header is bad).

    Its seqs run from the seq due when it was reached (for the first segment,
    the base_seq in its file name) to the next segment's base_seq - 1; None
    when it is the last segment.
    """

    segment: str
    error: BadSegmentHeader
    first_lost: int | None
    last_lost: int | None

    offset = 0  # the damage starts at the header

    @property
    def reason(self) -> str:
        msg = self.error.args[0] if self.error.args else str(self.error)
        return f"unreadable segment: {msg}"

    def describe(self) -> str:
        return (f"{self.segment} offset {self.offset}: {self.reason}; whole segment, "
                f"lost {self.lost_text()}")


Damage = Corrupt | SegmentDamaged
RunEvent = Frame | Incomplete | Corrupt | SegmentDamaged
Event = Frame | Incomplete | Corrupt  # what one segment's bytes can hold


def records_lost(damage: Iterable[Damage]) -> int:
    """Records known lost to ``damage``; damage running to the end counts 0 (unknown)."""
    return sum(n for d in damage if (n := d.seqs_lost) is not None)


__all__ = ["Corrupt", "Damage", "Event", "Frame", "Incomplete", "RunEvent", "SegmentDamaged",
           "records_lost", "seqs_lost"]
