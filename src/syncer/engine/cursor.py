"""A read position in a run's log that spans segments and can be polled again.

`LogCursor.poll()` returns every event available now, walking from the
current segment into later ones; called again later it returns only what was
appended since (a live segment grows, new segments appear). It is the one
place that knows how the syncer moves between segments:

* a newer segment exists -> the current one is polled once more (its writer
  finished it before rotating) and left; a torn tail left there is a crash's
  leftover, reported as a note, not waited for;
* a segment that cannot be read as a whole (bad header, a symbolic link, a
  directory) is reported and skipped;
* a seq gap between segments is reported like corruption.

Losses are counted and worded as `schema.reader.iter_run_log` does for
``runwal verify`` and ``show``, with the same helpers (`segment_gap`,
`lost_segment`, `close_tail`, each event's ``describe()``), so each lost seq
is in exactly one note: damage that runs to the end of a segment is closed at
the next segment's first seq when that segment is already there. When it is
not yet (a live run), the note says "seqs from N on" and the gap a later
segment would show for the same seqs is not reported again.

A poll returns at most one window (`Window`: records, and bytes read) and
sets ``more`` when it stopped there: a run with millions of records past its
checkpoint is read, sent and checkpointed window by window, so what a pass
holds is a window and a batch, however far behind it is. The window ends
between frames and never on a decision that later bytes could change (see
`SegmentReader.poll`): the events of consecutive windows are exactly those of
one unbounded poll.

The log directory is listed once per poll (plus once more when the last
segment listed has been read, to see whether a newer one appeared since), not
once per segment: a run of thousands of small segments costs one listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schema.errors import BadSegmentHeader
from schema.layout import RunDir
from schema.reader import (
    Corrupt,
    Frame,
    Incomplete,
    SegmentReader,
    close_tail,
    lost_segment,
    segment_gap,
)
from schema.segment import SEGMENT_HEADER_SIZE, parse_segment_name
from syncer.engine.checkpoint import Checkpoint


@dataclass(frozen=True)
class Note:
    """Something the reader passed over that the user should hear about."""

    text: str
    damage: bool  # True: records may be lost (corrupt, bad header, gap)


CursorEvent = Frame | Note


@dataclass(frozen=True)
class Window:
    """How much one poll reads at most: ``records`` (it stops after the frame that
    reaches them) and ``bytes`` of log read (more only for a frame larger than that)."""

    records: int = 20_000
    bytes: int = 1 << 20


# 20k records decode to ~12 MB of Python objects (~600 B each); a 1 MiB read holds
# ~80k one-point records, so the records bound is the one that bites and a window
# re-reads at most that MiB: a 2M-record backlog costs ~100 reads of the page cache.
WINDOW = Window()


class LogCursor:
    def __init__(
        self,
        run_dir: RunDir,
        *,
        segment: str = "",
        offset: int = 0,
        expected_seq: int | None = None,
        window: Window = WINDOW,
    ):
        self.run_dir = run_dir
        self.expected = expected_seq
        self.window = window
        self.more = False  # the last poll stopped at its window: poll again at once
        self._left = (0, 0)  # records and bytes the current poll may still read
        self._done: str = ""  # name of the last segment left behind
        self._reader: SegmentReader | None = None
        self._tail: Corrupt | None = None  # damage to the end of the reader's segment, unsaid
        self._open: int | None = None  # first seq of a loss reported as running to the end
        if segment:
            path = run_dir.log_dir / segment
            named = parse_segment_name(segment) is not None and "/" not in segment
            if named and path.is_file() and offset > 0 and path.stat().st_size >= offset:
                self._reader = SegmentReader(path, expected_seq=expected_seq)
                self._reader.offset = offset
            else:
                # Position unusable: start over from the first segment, where frames
                # hold seqs below expected_seq. The reader would call those a loss,
                # so it gets no expectation; the caller's seq filter skips them.
                self.expected = None

    @classmethod
    def after(cls, run_dir: RunDir, ckpt: Checkpoint | None, window: Window = WINDOW
              ) -> LogCursor:
        """A cursor at the first frame ``ckpt`` does not cover (the start without one;
        the start of its segment for a checkpoint that `needs_reread`)."""
        if ckpt is None:
            return cls(run_dir, window=window)
        if ckpt.needs_reread:
            return cls(run_dir, segment=ckpt.segment, offset=SEGMENT_HEADER_SIZE,
                       window=window)
        due = ckpt.offset_seq if ckpt.offset_seq >= 0 else ckpt.seq + 1
        return cls(run_dir, segment=ckpt.segment, offset=ckpt.offset, expected_seq=due,
                   window=window)

    def _next_path(self, listing: list[Path]) -> SegmentReader | None:
        for path in listing:
            if path.name > self._done:
                return SegmentReader(path, expected_seq=self.expected)
        return None

    def poll(self) -> list[CursorEvent]:
        """The events available now, at most one `Window` of them (then ``more``)."""
        out: list[CursorEvent] = []
        self.more = False
        self._left = (self.window.records, self.window.bytes)
        listing = self.run_dir.segments()
        while True:
            if self._reader is None:
                self._reader = self._next_path(listing)
                if self._reader is None:
                    return out
            reader = self._reader
            if not self._read(reader, out, listing):
                continue
            if self.more:
                return out  # the next poll goes on from here
            if not any(p.name > reader.name for p in listing):
                listing = self.run_dir.segments()  # the last one known: did a newer appear?
                if not any(p.name > reader.name for p in listing):
                    self._say_tail(out, None)  # a one-off pass must hear it now
                    return out
            self._read(reader, out, listing)  # last look before moving on
            if self.more:
                return out  # it had more than the window: not done with it yet
            self._say_tail(out, next(p for p in listing if p.name > reader.name))
            pending = reader.pending
            if pending is not None and pending.available > 0:
                out.append(
                    Note(
                        f"{pending.describe()}: {pending.available} bytes left by a crash",
                        damage=False,
                    )
                )
            self._done, self._reader = reader.name, None

    def _read(self, reader: SegmentReader, out: list[CursorEvent], listing: list[Path]) -> bool:
        """Poll one reader into ``out``; False when the segment had to be skipped."""
        had_header = reader.header is not None
        records, nbytes = self._left
        start = reader.offset
        try:
            events = reader.poll(max_records=records, max_bytes=nbytes)
        except BadSegmentHeader as exc:
            self._lost(reader, exc, out, listing)
            return False
        except FileNotFoundError:
            self._done, self._reader = reader.name, None
            return False
        except IsADirectoryError:  # other errors (EIO, EACCES) may pass: they fail the pass
            self._lost(reader, BadSegmentHeader("not a regular file", path=str(reader.path)),
                       out, listing)
            return False
        if not had_header and reader.header is not None:
            gap = segment_gap(reader.name, self.expected, reader.header.base_seq)
            if gap is not None:
                self._damage(gap, out)
        for ev in events:
            if isinstance(ev, Frame):
                self._say_tail(out, None)
                self._open = None
                self.expected = ev.next_seq
                out.append(ev)
            elif isinstance(ev, Corrupt):
                self._damage(ev, out)
            elif isinstance(ev, Incomplete):
                pass  # torn tail: live writer or crash; decided by the caller/rotation
        records -= sum(len(ev.records) for ev in events if isinstance(ev, Frame))
        nbytes -= reader.offset - start
        self._left = (records, nbytes)
        self.more = reader.more or records <= 0 or nbytes <= 0
        return True

    def _damage(self, ev: Corrupt, out: list[CursorEvent]) -> None:
        """One loss into ``out``, unless its seqs were reported already."""
        self._say_tail(out, None)
        if ev.last_lost is None:
            self._tail = ev  # said when it is known whether a segment follows
            return
        self.expected = ev.last_lost + 1
        if ev.skipped == 0 and ev.first_lost is not None and ev.first_lost == self._open:
            self._open = None  # a gap naming seqs an open-ended loss already counted
            return
        # Bytes skipped that held no record (junk between frames, or after the run's
        # exit record) are said, but cost nothing: the run is not partial for them.
        out.append(Note(ev.describe(), damage=ev.seqs_lost != 0))

    def _say_tail(self, out: list[CursorEvent], successor: Path | None) -> None:
        """Report the damage held back at the end of a segment: closed at ``successor``
        (the next segment), or running to the end when none follows (yet)."""
        tail, self._tail = self._tail, None
        if tail is None:
            return
        if successor is not None:
            tail = close_tail(tail, successor)
            assert tail.last_lost is not None
            self.expected = max(self.expected or 0, tail.last_lost + 1)
        else:
            self._open = tail.first_lost
        out.append(Note(tail.describe(), damage=True))

    def _lost(self, reader: SegmentReader, exc: BadSegmentHeader, out: list[CursorEvent],
              listing: list[Path]) -> None:
        """A segment unreadable as a whole: every seq it held, as `iter_run_log` says it."""
        later = [p for p in listing if p.name > reader.name]
        lost = lost_segment(reader.path, exc, self.expected, later)
        if lost.last_lost is not None:
            self.expected = max(lost.last_lost + 1, self.expected or 0)
        else:
            self._open = lost.first_lost
        out.append(Note(lost.describe(), damage=True))
        self._done, self._reader = reader.name, None
