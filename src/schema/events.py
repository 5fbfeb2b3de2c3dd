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
log, how many is unknown; ``last_known`` then says how far the bytes prove
the loss goes, when a damaged frame's header still checks out), and the
reader reports every lost seq in exactly one of them. This module is the one
place that turns those seqs into a count
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
    """A torn tail. When the torn frame's header checks out, ``first_seq ..
    last_seq`` are the seqs it holds (a writer may still finish it; after a
    crash or a cut they are the records the tail cost); else both are None."""

    segment: str
    offset: int
    available: int  # bytes present from offset to the end of the file
    first_seq: int | None = None
    last_seq: int | None = None

    def describe(self) -> str:
        held = ("" if self.first_seq is None or self.last_seq is None else
                f": a frame of seqs {self.first_seq}..{self.last_seq} "
                f"({_records(self.last_seq - self.first_seq + 1)}) cut short")
        return f"torn tail at {self.segment} offset {self.offset}{held}"


def _records(n: int) -> str:
    return f"{n:,} record{'' if n == 1 else 's'}"


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
    last_known: int | None

    @property
    def seqs_lost(self) -> int | None:
        """How many records were lost; None when unknown (damage to the end)."""
        return seqs_lost(self.first_lost, self.last_lost)

    @property
    def known_lost(self) -> int:
        """Records the bytes prove lost: all of them when the range is closed; for
        damage to the end, those up to ``last_known`` (0 when that is unknown)."""
        last = self.last_known if self.last_lost is None else self.last_lost
        return seqs_lost(self.first_lost, last) or 0

    def lost_text(self) -> str:
        """The seqs lost in words: ``seqs 12..15 (4 records)``, ``no records``..."""
        n = self.seqs_lost
        if self.first_lost is None:
            return "unknown seqs"
        if n is None:
            if self.last_known is not None and self.last_known >= self.first_lost:
                return (f"seqs {self.first_lost}..{self.last_known} "
                        f"({_records(self.known_lost)}) and any after them")
            return f"seqs from {self.first_lost} on"
        if n == 0:
            return "no records"
        return f"seqs {self.first_lost}..{self.last_lost} ({_records(n)})"


@dataclass(frozen=True)
class Corrupt(_Loss):
    segment: str
    offset: int
    skipped: int  # bytes skipped before the next good frame (or the end)
    first_lost: int | None  # first seq that may be lost
    last_lost: int | None  # last seq lost; None when damage runs to the end
    reason: str
    # damage to the end: the last seq of the damaged frame, when its header checks out
    last_known: int | None = None

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
    last_known = None  # no frame header of it is trusted

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
    """Records known lost to ``damage`` (damage running to the end counts the seqs
    its ``last_known`` proves, else 0)."""
    return sum(d.known_lost for d in damage)


__all__ = ["Corrupt", "Damage", "Event", "Frame", "Incomplete", "RunEvent", "SegmentDamaged",
           "records_lost", "seqs_lost"]
