"""Iterate the frames of a segment, telling torn tails from corruption.

For each position the reader yields one of:

* `Frame`      -- a frame whose header CRC, payload CRC and records all check out;
* `Incomplete` -- the bytes end mid-frame (a torn tail). Normal while a writer is
  live or after a crash; a tailing reader waits and retries from that offset;
* `Corrupt`    -- bytes are present but fail the checks. The reader scans forward
  byte by byte for the next frame whose header and payload CRCs validate and
  whose base_seq is plausible (>= the next expected seq), reports what it
  skipped, and goes on. A flipped bit loses one frame; inserted or deleted
  bytes lose the frame they touch, not the rest of the file.

A tail made only of zero bytes is reported as `Incomplete`, not `Corrupt`: that
is what a filesystem leaves when a machine crashes after extending a file but
before its data reached the disk; so is a valid frame header whose
payload_crc and everything after it are zero (only its first block landed).
A malformed record inside a valid frame (schema.records) is a `Corrupt` of 0
bytes naming its seq, yielded just before the frame, which keeps the others.
A frame that runs past the end of the file is a torn tail only if no complete
frame follows its start: a valid frame inside its claimed extent means bytes
were *deleted* from it, which is corruption (and must not cost the frames
after it).

Seqs are dense, so a frame whose base_seq is past the next seq due means whole
frames are missing (e.g. deleted exactly on frame boundaries); that is reported
as a `Corrupt` event with ``skipped == 0`` naming the missing seqs. The "next
seq due" is exact once the reader has read this segment's header or a frame;
a seq a caller passes to start mid-segment (a checkpoint) is only a lower bound.

`SegmentReader` keeps an offset so the syncer can tail a live segment with
repeated `poll()` calls; `iter_run_log` walks every segment of a run directory.
A poll may be bounded (``max_bytes``, ``max_records``: the syncer reads a run
with a backlog of millions of records window by window): it then returns a
prefix of the events an unbounded poll would, never a decision that more
bytes could change (a torn tail, damage to the end, a frame whose claimed
extent passes the window), and ``more`` says that it stopped short.
Between segments, `segment_gap` and `lost_segment` decide which seqs a missing
or unreadable segment cost, and damage to the end of a segment is closed at the
next one's base_seq (`close_tail`), so each seq is reported once; a caller that
walks the segments itself (the syncer's cursor) uses them too. The event types,
and what a piece of damage cost, are in `schema.events` (re-exported here).

The rules are specified in docs/FORMAT.md ("Reader semantics") and pinned by the
conformance vectors in tests/vectors/. About 400 lines on purpose: the reading
algorithm within a segment and across segments is one specification, and the
two halves hand each other the seq due.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from schema.errors import BadSegmentHeader
from schema.events import (
    Corrupt,
    Damage,
    Event,
    Frame,
    Incomplete,
    RunEvent,
    SegmentDamaged,
    records_lost,
    seqs_lost,
)
from schema.frame import (
    HEADER_SIZE,
    TRAILER_SIZE,
    FrameHeader,
    check_payload,
    decode_payload,
    parse_header,
)
from schema.records import RecordType, unpack_records
from schema.segment import (
    SEGMENT_HEADER_SIZE,
    SegmentHeader,
    list_segments,
    open_segment,
    parse_segment_name,
)

# A frame whose base_seq is this far or further past the seq due is noise:
# plausible means expected <= base_seq < expected + SEQ_WINDOW.
SEQ_WINDOW = 1 << 40
_CRC_MISMATCH = "payload checksum mismatch"


def _try_frame(
    buf: bytes, pos: int, seed: int, expected: int
) -> tuple[FrameHeader | None, str]:
    """Validate a frame at ``pos``: (header, "") when valid, (header, "torn") when its
    header is valid but the bytes end inside it, (header, _CRC_MISMATCH) when its
    payload CRC fails, (None, reason) when the header does not pass."""
    head = parse_header(buf, pos, seed)
    if head is None:
        return None, "bad frame header"
    if head.base_seq < expected or head.base_seq - expected >= SEQ_WINDOW:
        return None, f"implausible base_seq {head.base_seq} (expected >= {expected})"
    if pos + head.size > len(buf):
        return head, "torn"
    if not check_payload(buf, pos, head, seed):
        return head, _CRC_MISMATCH
    return head, ""


def _decode(seg: str, buf: bytes, pos: int, head: FrameHeader, at: int
            ) -> tuple[Frame, list[Corrupt]]:
    """The frame at ``pos`` and one `Corrupt` per run of malformed records in it."""
    stored = buf[pos + HEADER_SIZE : pos + HEADER_SIZE + head.length]
    records, malformed = unpack_records(decode_payload(stored, head.flags), head.count,
                                        head.base_seq)
    runs: list[list[Any]] = []  # [first seq, last seq, reason] of consecutive ones
    for m in malformed:
        if runs and runs[-1][1] == m.seq - 1:
            runs[-1][1] = m.seq
            if m.reason not in runs[-1][2]:
                runs[-1][2] = runs[-1][2].split("; and ")[0] + "; and others"
        else:
            runs.append([m.seq, m.seq, m.reason])
    bad = [Corrupt(seg, at, 0, first, last, f"malformed record ({why}); the frame's "
                   "other records are kept") for first, last, why in runs]
    return Frame(seg, at, head.base_seq, head.size, records, head.count), bad


def scan(
    buf: bytes, seed: int, expected: int, seg: str = "", *, base: int = 0, exact: bool = True,
    ended: bool = False,
) -> Iterator[Event]:
    """Yield events for the frames in ``buf``; ``expected`` is the next seq due.

    ``base`` is the file offset of ``buf[0]``, so events carry file offsets.
    ``exact=False`` makes ``expected`` a lower bound for the first frame (no gap
    is reported before it), for callers that start at a remembered offset.
    ``ended``: the frame before ``buf`` ended with the run's EXIT record (`ends_run`).
    """
    end = len(buf)
    pos = 0
    while pos < end:
        if end - pos < HEADER_SIZE:
            yield Incomplete(seg, base + pos, end - pos)
            return
        head, reason = _try_frame(buf, pos, seed, expected)
        # A valid header whose payload_crc and every byte after it are zero: the
        # header reached the disk, the rest of the write did not (a torn tail).
        zero_filled = (reason == _CRC_MISMATCH and head is not None
                       and not any(buf[pos + head.size - TRAILER_SIZE:]))
        if reason == "torn":
            if _resync(buf, pos + 1, seed, expected, complete=True) is None:
                yield _torn(seg, base + pos, end - pos, head)
                return
            reason = "frame runs past the end of the file, yet a valid frame follows"
        elif head is not None and not reason:
            try:
                frame, malformed = _decode(seg, buf, pos, head, base + pos)
            except ValueError as exc:
                reason = f"undecodable payload: {exc}"
            else:
                if exact and frame.base_seq > expected:
                    yield Corrupt(seg, base + pos, 0, expected, frame.base_seq - 1,
                                  "seq gap: frames missing before this one")
                yield from malformed
                yield frame
                expected, exact, ended = frame.next_seq, True, ends_run(frame)
                pos += frame.size
                continue
        # Damage at pos: find the next frame that validates.
        hit = _resync(buf, pos + 1, seed, expected)
        if hit is None:
            if zero_filled or not any(buf[pos:]):
                yield _torn(seg, base + pos, end - pos, head)
            elif ended and head is None:
                # A writer writes nothing after EXIT in a segment (a resumed run opens
                # a new one), and no frame header starts here: junk, no record lost.
                yield Corrupt(seg, base + pos, end - pos, expected, expected - 1,
                              f"{reason} after the run's exit record")
            else:
                # Damage to the end; a damaged frame whose header checks out still
                # says which seqs it held, so those are known lost.
                known = None if head is None else head.base_seq + head.count - 1
                yield Corrupt(seg, base + pos, end - pos, expected, None, reason, known)
            return
        nxt, nxt_head = hit
        yield Corrupt(seg, base + pos, nxt - pos, expected, nxt_head.base_seq - 1, reason)
        expected, exact, ended = nxt_head.base_seq, True, False
        pos = nxt


def ends_run(frame: Frame) -> bool:
    """Whether ``frame``'s last record is the run's EXIT: a writer writes nothing after
    it in the same segment, so bytes there that hold no frame cost no record."""
    last = frame.records[-1] if frame.records else None
    return last is not None and last.type == RecordType.EXIT and last.seq == frame.next_seq - 1


def _torn(seg: str, offset: int, available: int, head: FrameHeader | None) -> Incomplete:
    """A torn tail at ``offset``; with the seqs its frame holds when its header checks out."""
    if head is None:
        return Incomplete(seg, offset, available)
    return Incomplete(seg, offset, available, head.base_seq, head.base_seq + head.count - 1)


def _resync(
    buf: bytes, start: int, seed: int, expected: int, *, complete: bool = False
) -> tuple[int, FrameHeader] | None:
    """First offset >= start holding a valid (or, unless ``complete``, validly torn) frame."""
    last = len(buf) - HEADER_SIZE
    for p in range(start, last + 1):
        # Cheap prefilter before any CRC: flags byte (offset 4) must be known.
        if buf[p + 4] > 1:
            continue
        head, reason = _try_frame(buf, p, seed, expected)
        if head is not None and (not reason or (reason == "torn" and not complete)):
            return p, head
    return None


class SegmentReader:
    """Reads one segment, from its start or incrementally as it grows.

    ``poll()`` returns the events for bytes appended since the last call. A
    trailing `Incomplete` leaves the offset at the torn frame, so the next poll
    retries it once the writer has finished the write.
    """

    def __init__(self, path: str | os.PathLike[str], *, expected_seq: int | None = None):
        self.path = Path(path)
        self.header: SegmentHeader | None = None
        self.offset = SEGMENT_HEADER_SIZE
        self.next_seq = expected_seq
        self.pending: Incomplete | None = None
        self.more = False  # the last poll stopped at its bound, before the bytes ran out
        # Whether next_seq is exactly the seq due at offset (see scan's ``exact``).
        self._exact = False
        self._ended = False  # the frame before offset ended the run (see scan's ``ended``)

    @property
    def name(self) -> str:
        return self.path.name

    def poll(self, *, max_bytes: int | None = None, max_records: int | None = None
             ) -> list[Event]:
        """Events for the bytes appended since the last call.

        Bounded by ``max_bytes`` (bytes read from the offset; doubled while not one
        event in them is decided, e.g. a frame larger than that) and ``max_records``
        (it stops after the frame that reaches it): the events are then the prefix
        of an unbounded poll's that no later byte can change, and ``more`` is True.

        Raises BadSegmentHeader when the segment is unreadable as a whole (its
        header fails, or it is no regular file); OSError when it cannot be
        opened now (gone, permission).
        """
        self.more = False
        with open_segment(self.path) as fh:
            if self.header is None:
                raw = fh.read(SEGMENT_HEADER_SIZE)
                if len(raw) < SEGMENT_HEADER_SIZE:
                    self.pending = Incomplete(self.name, 0, len(raw))
                    return [self.pending]
                self.header = SegmentHeader.decode(raw, path=str(self.path))
                if self.next_seq is None or self.next_seq < self.header.base_seq:
                    self.next_seq = self.header.base_seq
                # From the segment start the header's base_seq is the seq due;
                # a caller's position inside the segment only bounds it below.
                self._exact = (self.offset == SEGMENT_HEADER_SIZE
                               and self.next_seq == self.header.base_seq)
            want = None if max_bytes is None else max(1, max_bytes)
            while True:
                fh.seek(self.offset)
                data = fh.read() if want is None else fh.read(want)
                # a full read may have stopped short of the end: decide only what it settles
                cut = want is not None and len(data) == want
                events, self.more = self._scan(data, cut, max_records)
                if events or not cut:
                    break
                assert want is not None
                want *= 2
        self.pending = None
        for ev in events:
            if not isinstance(ev, Incomplete):
                self._exact = True
            if isinstance(ev, Frame):
                self.next_seq = ev.next_seq
                self.offset += ev.size
                self._ended = ends_run(ev)
            elif isinstance(ev, Corrupt):
                self.offset += ev.skipped
                self._ended = self._ended and ev.skipped == 0
                if ev.last_lost is not None:
                    self.next_seq = ev.last_lost + 1
            else:
                self.pending = ev
        return events

    def _scan(self, data: bytes, cut: bool, max_records: int | None) -> tuple[list[Event], bool]:
        """The events of ``data`` (read at the offset) up to the bounds; True: stopped short."""
        assert self.header is not None and self.next_seq is not None
        seed = self.header.seed
        out: list[Event] = []
        records = 0
        for ev in scan(data, seed, self.next_seq, self.name, base=self.offset, exact=self._exact,
                       ended=self._ended):
            if cut and not _settled(ev, data, self.offset, seed):
                return out, True
            out.append(ev)
            if isinstance(ev, Frame):
                records += ev.count
                if max_records is not None and records >= max_records:
                    return out, True
        return out, cut  # all of data decided; the file may go on past it


def _settled(ev: Event, data: bytes, base: int, seed: int) -> bool:
    """Whether ``ev``, found in ``data`` (file offset ``base``) that may not reach the end
    of the file, is what the whole file gives too. A frame is (it is complete and checks
    out); a torn tail or damage to the end is not; skipped bytes are unless the frame
    header they start at, or the one they end at (the resync hit), claims bytes past
    ``data``: read further, that frame might check out."""
    if isinstance(ev, Frame):
        return True
    if isinstance(ev, Incomplete) or ev.last_lost is None:
        return False
    if ev.skipped == 0:  # a seq gap or a malformed record: decided by the frame after it
        return True
    for pos in (ev.offset - base, ev.offset - base + ev.skipped):
        if pos + HEADER_SIZE > len(data):
            return False
        head = parse_header(data, pos, seed)
        if head is not None and pos + head.size > len(data):
            return False
    return True


def iter_run_log(log_dir: str | os.PathLike[str]) -> Iterator[RunEvent]:
    """Every event of every segment in ``log_dir``, in seq order.

    Between segments the seq due carries over, and every seq missing there is
    reported once: by `lost_segment` when a segment's header is unreadable (it
    held them), else by `segment_gap` at the next segment (a segment is missing
    or was cut short), so a lost or truncated segment is visible, never silent,
    and never counted twice.
    """
    segments = list_segments(log_dir)
    expected: int | None = None
    for i, path in enumerate(segments):
        later = segments[i + 1 :]
        reader = SegmentReader(path, expected_seq=expected)
        try:
            events = reader.poll()
        except BadSegmentHeader as exc:
            lost = lost_segment(path, exc, expected, later)
            yield lost
            if lost.last_lost is not None:
                # The next segment starts where this one's loss ends: no second gap.
                expected = max(lost.last_lost + 1, expected or 0)
            continue
        assert reader.header is not None or reader.pending is not None
        if reader.header is not None:
            gap = segment_gap(path.name, expected, reader.header.base_seq)
            if gap is not None:
                yield gap
        if reader.next_seq is not None:
            expected = reader.next_seq
        tail = events[-1] if events else None
        if later and isinstance(tail, Corrupt) and tail.last_lost is None:
            events[-1] = closed = close_tail(tail, later[0])
            assert closed.last_lost is not None
            expected = max(expected or 0, closed.last_lost + 1)
        yield from events


def close_tail(tail: Corrupt, successor: Path) -> Corrupt:
    """Damage that ran to the end of its segment (``last_lost`` None), closed where
    the next segment ``successor`` starts: the successor's first seq ends the range,
    so a caller that takes ``last_lost + 1`` as the seq due there reports no second
    gap for the same seqs."""
    first = tail.first_lost if tail.first_lost is not None else 0
    return replace(tail, last_lost=max(first, _base_of(successor)) - 1, last_known=None)


def segment_gap(segment: str, expected: int | None, base_seq: int) -> Corrupt | None:
    """The seqs missing before ``segment`` (first seq ``base_seq``), or None.

    ``expected`` is the seq due after the previous segment (None for the first
    segment: nothing is known before it). The gap is reported as a corrupt
    region of 0 bytes at the first frame offset of ``segment``.
    """
    if expected is None or base_seq <= expected:
        return None
    return Corrupt(segment, SEGMENT_HEADER_SIZE, 0, expected, base_seq - 1,
                   "seq gap between segments")


def lost_segment(
    path: Path, error: BadSegmentHeader, expected: int | None, later: Sequence[Path]
) -> SegmentDamaged:
    """The damage of a segment whose header is unreadable: every seq it held.

    They run from ``expected`` (the seq due; for the first segment, the base_seq
    in its name) to the base_seq of the next segment in ``later`` minus one (its
    header's, or its name's if that header is unreadable too); to the end of the
    log (``last_lost`` None) when no segment follows. A caller that reads on
    into the next segment takes ``last_lost + 1`` as the seq due there, so that
    the same seqs are not reported again as a gap.
    """
    first = expected if expected is not None else parse_segment_name(path.name)
    last = None if not later else _base_of(later[0]) - 1
    return SegmentDamaged(path.name, error, first, last)


def _base_of(path: Path) -> int:
    """A segment's base_seq: its header's, else the one its name carries."""
    try:
        with open_segment(path) as fh:
            return SegmentHeader.decode(fh.read(SEGMENT_HEADER_SIZE)).base_seq
    except (OSError, BadSegmentHeader):
        name_seq = parse_segment_name(path.name)
        return 0 if name_seq is None else name_seq


__all__ = ["Corrupt", "Damage", "Event", "Frame", "Incomplete", "RunEvent", "SegmentDamaged",
           "SegmentReader", "close_tail", "iter_run_log", "lost_segment", "records_lost", "scan",
           "segment_gap", "seqs_lost"]
