"""A read position in a run's log that spans segments and can be polled again.

`LogCursor.poll()` returns every event available now, walking from the
current segment into later ones; called again later it returns only what was
appended since (a live segment grows, new segments appear). It is the one
place that knows how the syncer moves between segments:

* a newer segment exists -> the current one is polled once more (its writer
  finished it before rotating) and left; a torn tail left there is a crash's
  leftover, reported as a note, not waited for;
* a segment whose header is bad is reported and skipped;
* a segment that is a symbolic link is reported and not read (the syncer
  uploads nothing from outside the run directory);
* a seq gap between segments is reported like corruption.

The log directory is listed once per poll (plus once more when the last
segment listed has been read, to see whether a newer one appeared since), not
once per segment: a run of thousands of small segments costs one listing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from schema.errors import BadSegmentHeader
from schema.layout import RunDir
from schema.reader import Corrupt, Frame, Incomplete, SegmentReader
from schema.segment import SEGMENT_HEADER_SIZE, parse_segment_name
from syncer.engine.checkpoint import Checkpoint


@dataclass(frozen=True)
class Note:
    """Something the reader passed over that the user should hear about."""

    text: str
    damage: bool  # True: records may be lost (corrupt, bad header, gap)


CursorEvent = Frame | Note


class LogCursor:
    def __init__(
        self,
        run_dir: RunDir,
        *,
        segment: str = "",
        offset: int = 0,
        expected_seq: int | None = None,
    ):
        self.run_dir = run_dir
        self.expected = expected_seq
        self._done: str = ""  # name of the last segment left behind
        self._reader: SegmentReader | None = None
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
    def after(cls, run_dir: RunDir, ckpt: Checkpoint | None) -> LogCursor:
        """A cursor at the first frame ``ckpt`` does not cover (the start without one;
        the start of its segment for a checkpoint that `needs_reread`)."""
        if ckpt is None:
            return cls(run_dir)
        if ckpt.needs_reread:
            return cls(run_dir, segment=ckpt.segment, offset=SEGMENT_HEADER_SIZE)
        due = ckpt.offset_seq if ckpt.offset_seq >= 0 else ckpt.seq + 1
        return cls(run_dir, segment=ckpt.segment, offset=ckpt.offset, expected_seq=due)

    def _next_path(self, listing: list[Path]) -> SegmentReader | None:
        for path in listing:
            if path.name > self._done:
                return SegmentReader(path, expected_seq=self.expected)
        return None

    def poll(self) -> list[CursorEvent]:
        out: list[CursorEvent] = []
        listing = self.run_dir.segments()
        while True:
            if self._reader is None:
                self._reader = self._next_path(listing)
                if self._reader is None:
                    return out
            reader = self._reader
            if not self._read(reader, out):
                continue
            if not any(p.name > reader.name for p in listing):
                listing = self.run_dir.segments()  # the last one known: did a newer appear?
                if not any(p.name > reader.name for p in listing):
                    return out
            self._read(reader, out)  # last look before moving on
            pending = reader.pending
            if pending is not None and pending.available > 0:
                out.append(
                    Note(
                        f"{reader.name} offset {pending.offset}: torn tail of "
                        f"{pending.available} bytes left by a crash",
                        damage=False,
                    )
                )
            self._done, self._reader = reader.name, None

    def _read(self, reader: SegmentReader, out: list[CursorEvent]) -> bool:
        """Poll one reader into ``out``; False when the segment had to be skipped."""
        had_header = reader.header is not None
        if not had_header and _is_link(reader.path):
            out.append(Note(f"{reader.name}: a symbolic link, not read (the syncer reads "
                            "nothing from outside the run directory)", damage=True))
            self._done, self._reader = reader.name, None
            return False
        try:
            events = reader.poll()
        except BadSegmentHeader as exc:
            out.append(Note(f"{reader.name}: {exc}", damage=True))
            self._done, self._reader = reader.name, None
            return False
        except FileNotFoundError:
            self._done, self._reader = reader.name, None
            return False
        except IsADirectoryError:  # other errors (EIO, EACCES) may pass: they fail the pass
            out.append(Note(f"{reader.name}: a directory named like a segment, skipped",
                            damage=True))
            self._done, self._reader = reader.name, None
            return False
        if not had_header and reader.header is not None and self.expected is not None:
            base = reader.header.base_seq
            if base > self.expected:
                out.append(
                    Note(
                        f"{reader.name}: seq gap between segments, "
                        f"seqs {self.expected}..{base - 1} missing",
                        damage=True,
                    )
                )
        for ev in events:
            if isinstance(ev, Frame):
                self.expected = ev.next_seq
                out.append(ev)
            elif isinstance(ev, Corrupt):
                out.append(Note(ev.describe(), damage=True))
                if ev.last_lost is not None:
                    self.expected = ev.last_lost + 1
            elif isinstance(ev, Incomplete):
                pass  # torn tail: live writer or crash; decided by the caller/rotation
        return True


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False
