"""The replay engine: a run directory -> a `Sink`, exactly once.

``sync_run`` reads the log from the checkpoint on, groups records into batches at frame
boundaries (how big: `syncer.engine.batching`), hands each batch to the sink and, only
after the sink returns (the server acknowledged), writes the checkpoint. A crash between
the two re-sends one batch, which the sink makes harmless. The checkpoint never points
past a record the server has not acknowledged: the batch before an EXIT resumes at the
EXIT's frame (records up to the checkpoint's seq are skipped when it is read again), so
a pass that dies before the final status update reads the EXIT again and the server run
does not stay RUNNING.

The log is read one cursor `Window` at a time (20k records): a pass holds a window and
the batch being sent, never everything since the checkpoint, so a run millions of
records behind (a syncer started late, a server down for hours) costs the same memory as
one that is up to date.

One pass (``follow=False``) reads what is on disk now: a run still being written is
synced up to its last complete frame and left running on the server; the next pass
continues it, and ``stop`` ends it after the batch in flight (``runwal syncd`` runs such
passes on SIGTERM-able workers). ``follow=True`` keeps polling the live segment (and new
ones) until the EXIT record is acknowledged or ``stop`` is set -- the building block of
the online/hybrid modes.

Its answer is a `SyncResult` (`syncer.engine.result`); what a pass *would* send is
`syncer.engine.plan`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schema.errors import SchemaError
from schema.layout import RunDir
from schema.reader import Frame
from schema.records import Record
from syncer.engine import checkpoint
from syncer.engine.batching import BatchLimit, points
from syncer.engine.cursor import WINDOW, LogCursor, Note, Window
from syncer.engine.result import SyncResult, verdict
from syncer.errors import RunMoved, SyncError, UnsafeRunDir
from syncer.runfiles import dir_problem
from syncer.sinks.base import ResumeFrom, RunIdentity, Sink

Pos = tuple[str, int, int]  # segment, offset, the seq due there


class _Pass:
    def __init__(
        self,
        rd: RunDir,
        sink: Sink,
        result: SyncResult,
        progress: Callable[[SyncResult], None] | None,
        stop: threading.Event | None = None,
        window: Window = WINDOW,
        fresh: bool = False,
    ):
        self.rd, self.sink, self.result, self.progress = rd, sink, result, progress
        self.stop = stop
        for sub in (rd.sync_dir, rd.log_dir):
            problem = dir_problem(sub)
            if problem is not None:
                raise UnsafeRunDir(f"{sub.name}/ {problem}", path=str(rd.path))
        self.ident = RunIdentity.read(rd)
        result.run_id = self.ident.run_id
        # fresh: as if the checkpoint were lost (its server run went to the trash: RunMoved)
        ckpt = None if fresh else checkpoint.load(rd, sink.name, sink.uri)
        self.ckpt = ckpt
        self.acked = ckpt.seq if ckpt else -1
        result.last_seq = self.acked
        result.finished = bool(ckpt and ckpt.finished)
        if ckpt is not None:
            result.server_run_id, result.experiment_id = ckpt.server_run_id, ckpt.experiment_id
        self.cursor = LogCursor.after(rd, ckpt, window)
        self.opened = False
        self.batch: list[Record] = []
        self.points = 0
        # read_pos: end of the last frame fed; ack_pos: where reading must resume
        # for everything up to ``acked`` to be on the server (saved in the checkpoint),
        # as (segment, offset, seq due there).
        self.ack_pos: Pos = (ckpt.segment, ckpt.offset, ckpt.offset_seq) if ckpt else ("", 0, -1)
        self.read_pos = self.ack_pos
        self.dirty = False  # sent since the last end_pass
        self.limit = BatchLimit()  # when to send the batch (batching.py)
        self.upgrade = ckpt is not None and ckpt.needs_reread  # rewrite it as version 2
        self.saved: tuple[int, Pos, bool] | None = None  # what the last save wrote

    def open(self, first: Record | None) -> None:
        if self.opened:
            return
        resume = None
        if self.ckpt is not None:
            resume = ResumeFrom(self.ckpt.server_run_id, self.ckpt.experiment_id, self.ckpt.state)
        self.sink.open_run(self.ident, first if resume is None else None, resume)
        self.opened = True
        self.result.server_run_id = self.sink.server_run_id
        self.result.experiment_id = self.sink.experiment_id
        if self.ckpt is None:  # remember the server run at once
            self.save()

    def save(self) -> None:
        """Write the checkpoint: ``acked`` and where reading resumes for it (``ack_pos``)."""
        old = self.ckpt if not self.opened else None  # nothing sent: keep what it says
        checkpoint.save(
            self.rd,
            checkpoint.Checkpoint(
                sink=self.sink.name,
                uri=self.sink.uri,
                server_run_id=old.server_run_id if old else self.sink.server_run_id,
                experiment_id=old.experiment_id if old else self.sink.experiment_id,
                seq=self.acked,
                segment=self.ack_pos[0],
                offset=self.ack_pos[1],
                offset_seq=self.ack_pos[2],
                finished=self.result.finished,
                state=old.state if old else self.sink.state(),
            ),
        )
        self.upgrade = False
        self.saved = (self.acked, self.ack_pos, self.result.finished)

    def flush(self, pos: Pos | None = None) -> None:
        """Send the batch; ``pos`` is where reading resumes after its last record."""
        if not self.batch:
            return
        self.open(self.batch[0])
        before = self.sink.points_sent
        t0 = time.monotonic()
        self.result.rejected += self.sink.send(self.batch)
        took = time.monotonic() - t0
        sent = self.sink.points_sent - before
        self.result.records += len(self.batch)
        self.result.points += sent
        self.limit.measured(sent, took)
        self.acked = self.batch[-1].seq
        self.ack_pos = self.read_pos if pos is None else pos
        self.result.last_seq = self.acked
        self.result.finished = False
        self.batch, self.points, self.dirty = [], 0, True
        self.save()
        if self.progress is not None:
            self.progress(self.result)

    def feed(self, frame: Frame) -> None:
        start: Pos = (frame.segment, frame.offset, frame.base_seq)
        end: Pos = (frame.segment, frame.offset + frame.size, frame.next_seq)
        for i, rec in enumerate(frame.records):
            if rec.seq <= self.acked:
                continue
            kind = rec.kind
            if kind is None:
                self.result.unknown += 1
                if self.result.unknown == 1:
                    self.result.notes.append(
                        f"seq {rec.seq}: unknown record type {rec.type} "
                        "skipped (written by a newer runwal?)"
                    )
                self.acked_skip(rec)
                continue
            if kind == "exit":
                # The batch before the EXIT resumes at this frame's start (its records up
                # to acked are skipped when read again), never past the EXIT: a syncer
                # that dies before the final update is acknowledged reads it again.
                self.flush(start)
                self.open(rec)
                self.result.rejected += self.sink.finish(rec)
                self.acked, self.result.last_seq = rec.seq, rec.seq
                self.ack_pos = end if i == len(frame.records) - 1 else start
                self.result.finished, self.dirty = True, False
                self.save()
                continue
            self.batch.append(rec)
            self.points += points(rec)
        self.read_pos = end
        if not self.batch and (not frame.records or self.acked >= frame.records[-1].seq):
            self.ack_pos = end  # nothing of this frame is left to send
        if self.limit.full(self.points, len(self.batch)):
            self.flush()

    def acked_skip(self, rec: Record) -> None:
        """An unknown record at the end of a batch still counts as handled."""
        if not self.batch and rec.seq == self.acked + 1:
            self.acked = rec.seq

    def read_available(self) -> bool:
        """Feed everything on disk now, one cursor window at a time: what the pass holds
        is a window and a batch, however far behind the checkpoint the log runs."""
        got = False
        while True:
            for ev in self.cursor.poll():
                if self.stop is not None and self.stop.is_set():
                    return got  # read_pos stays at the last frame fed: the next pass resumes there
                if isinstance(ev, Note):
                    self.result.notes.append(ev.text)
                    self.result.damaged += ev.damage
                else:
                    got = True
                    self.feed(ev)
            if not self.cursor.more:
                return got

    def end_pass(self, artifacts: str = "pass") -> None:
        self.flush()
        if self.upgrade and not self.dirty:
            self.save()  # a version 1 checkpoint read from its segment's start: now exact
        if not self.opened and (self.ckpt is None or artifacts == "flush"):
            self.open(None)  # an empty log still makes the run visible
        if (self.dirty or artifacts == "flush") and self.opened:
            if artifacts == "defer":
                self.result.artifacts_pending = True
                # the sink did nothing since the last batch's save: write only a position
                # moved past frames with nothing to send (syncd: a save less per write)
                changed = self.saved != (self.acked, self.ack_pos, self.result.finished)
            else:
                self.result.rejected += self.sink.end_pass()
                changed = True
            self.dirty = False
            if changed:
                self.save()


def sync_run(
    run_dir: str | Path,
    sink: Sink,
    *,
    follow: bool = False,
    stop: threading.Event | None = None,
    progress: Callable[[SyncResult], None] | None = None,
    poll_interval: float = 0.5,
    flush_interval: float = 10.0,
    until_seq: int = -1,
    artifacts: str = "pass",
    window: Window = WINDOW,
) -> SyncResult:
    """Replay ``run_dir`` into ``sink`` from its checkpoint; never raises for
    server or format trouble (the result says ``failed`` and why).

    Args:
        follow: keep tailing until the run's EXIT is acknowledged or ``stop`` is set.
        stop: ends a follow loop, or a one-off pass after the batch in flight (and
            retry sleeps if the sink shares it), promptly.
        progress: called after every acknowledged batch with the running result.
        poll_interval: seconds between polls of a live segment when following.
        flush_interval: when following, seconds between artifact flushes
            (console log, config.json) while records keep arriving.
        until_seq: when following, an acknowledged EXIT below this seq does not
            end the loop: a resumed run's old EXIT is already on the server,
            the follower waits for the new one (`runwal follow --until-seq`).
        artifacts: what a one-off pass does with the artifacts it accumulates
            (console log, config.json; a finished run always uploads them):
            "pass" uploads them when the pass sent records; "defer" leaves them
            for a later pass and sets ``result.artifacts_pending`` (syncd passes
            every ~100 ms would re-upload a growing output.log each time);
            "flush" uploads whatever is pending even when nothing new was read.
        window: how much of the log is read (and held) at once, besides the batch
            being sent (`syncer.engine.cursor.Window`; tests make it small).

    The caller owns ``sink`` and closes it.
    """
    t0 = time.monotonic()
    result = SyncResult(run_dir=str(run_dir))
    own: Sink | None = None  # a stream's sink made here, closed here
    try:
        rd = RunDir.open(run_dir)
        parent = rd.parent_run()
        if parent is not None:  # one stream of a shared run (a rank's own follower)
            own = sink = sink.for_stream(rd.path.name, _primary_finished(parent, sink))
        run_pass = lambda d, s, r, prog: _one(  # noqa: E731
            d, s, r, prog, stop, follow, window, artifacts, poll_interval, flush_interval,
            until_seq)
        run_pass(rd, sink, result, progress)
        if parent is None and not follow:  # a one-off pass syncs every stream of the run
            _streams(rd, sink, result, run_pass)
    except (SyncError, SchemaError, OSError) as exc:
        result.status, result.reason = "failed", str(exc)
        result.retryable = isinstance(exc, SyncError) and exc.retryable
    else:
        moved = [s for s in result.streams.values() if s["status"] != "skipped"]
        if result.status != "skipped" or moved:  # skipped only when every stream was
            result.status, result.reason = verdict(result)
    finally:
        if own is not None:
            own.close()
    result.values_skipped = getattr(sink, "values_skipped", 0)
    result.seconds = time.monotonic() - t0
    return result


def _one(rd: RunDir, sink: Sink, result: SyncResult,
         progress: Callable[[SyncResult], None] | None, stop: threading.Event | None,
         follow: bool, window: Window, artifacts: str, poll_interval: float,
         flush_interval: float, until_seq: int) -> None:
    """One stream's pass (or follow loop) into ``sink``."""
    for fresh in (False, True):
        try:
            p = _Pass(rd, sink, result, progress, stop, window, fresh=fresh)
            if not follow and checkpoint.up_to_date(rd, p.ckpt):
                result.status, result.reason = "skipped", "already synced"
            elif not follow:
                p.read_available()
                p.end_pass(artifacts)
            else:
                _follow(p, stop or threading.Event(), poll_interval, flush_interval, until_seq)
            return
        except RunMoved:  # another syncer's copy is kept: send it all there, once
            if fresh:
                raise


def _primary_finished(run: RunDir, sink: Sink) -> bool:
    ckpt = checkpoint.load(run, sink.name, sink.uri)
    return bool(ckpt and ckpt.finished)


def _streams(rd: RunDir, sink: Sink, result: SyncResult,
             run_pass: Callable[[RunDir, Sink, SyncResult, Any], None]) -> None:
    """Sync each non-primary stream of a shared run into the same server run, each from
    its own checkpoint (``streams/<label>/sync/``); fold what each did into ``result``."""
    for srd in rd.streams():
        label = srd.path.name
        part = SyncResult(run_dir=str(srd.path), run_id=result.run_id)
        stream_sink = sink.for_stream(label, result.finished)
        try:
            run_pass(srd, stream_sink, part, None)
        except RunMoved:
            raise
        except (SyncError, SchemaError, OSError) as exc:
            part.status, part.reason = "failed", str(exc)
            part.retryable = isinstance(exc, SyncError) and exc.retryable
        finally:
            stream_sink.close()
        if part.status not in ("skipped", "failed"):
            part.status, part.reason = verdict(part)
        result.fold(label, part)


def _follow(
    p: _Pass, stop: threading.Event, poll_interval: float, flush_interval: float, until_seq: int
) -> None:
    last_flush = time.monotonic()
    while True:
        got = p.read_available()
        p.flush()
        if p.result.finished and not got and p.acked >= until_seq:
            return
        if stop.is_set():
            p.end_pass()
            return
        if p.dirty and (not got or time.monotonic() - last_flush > flush_interval):
            p.end_pass()
            last_flush = time.monotonic()
        if not got:
            stop.wait(poll_interval)
