"""What stands behind one Run: its directory, writer thread, helpers and syncer process.

The Run (run.py) is what the user calls: steps, config, summary,
validation, warnings. This module is the machinery it drives, started in
order by init() and stopped in order by finish():

* ``open()``: check the run directory against the resume policy (nothing
  written yet); online mode: start the follower and wait for the server, so
  that a refusal leaves no run behind; create the directory and take its
  writer lock (wal/writerlock.py: a second process writing the same run gets a
  RunDirError here); start the writer thread; queue the RUN record (its body,
  metadata and git, is built on the writer thread) or the RESUME record;
  start the file saver.
* ``start_hybrid()``, after the Run queued its config: the follower of a
  hybrid run, which never waits for the server.
* ``start_watchers()``: the check that the follower still lives, console
  capture, the system monitor.
* ``stop_capture()``, first thing in finish(): the helpers that produce
  records stop and hand over what they hold (the saver also records the files
  the script wrote into ``run.dir`` without saving them; files/save.py). The
  Run then writes SUMMARY and EXIT.
* ``close_writer()`` (bounded; the lock is released once the writer stopped),
  then ``finish_sync()``: wait (bounded, with progress on stderr) for the
  follower to deliver the EXIT.

The optional helpers (machine/monitor.py, machine/console.py, and machine/metadata.py for the RUN
record) are imported lazily and guarded, so a missing or broken
one costs that feature, never the run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logwriter.errors import SyncWarning
from logwriter.files.save import FileSaver
from logwriter.session.resume import ResumeState, open_run_dir, plan_run_dir
from logwriter.session.settings import RECORDED_SETTINGS, Settings
from logwriter.values.text import clean_text_deep
from logwriter.wal.writer import Writer
from schema.layout import LOG_DIR
from schema.records import RecordType

if TYPE_CHECKING:
    from logwriter.machine.console import ConsoleBuffer
    from logwriter.session.syncproc import SyncProcess
    from logwriter.wal.writerlock import WriterLock

FOLLOWER_CHECK_S = 2.0


class Backend:
    """The directory, writer, saver, console capture, monitor and follower of one run."""

    def __init__(self, settings: Settings, run_dir: str) -> None:
        self.settings = settings
        self.run_dir = run_dir
        self.writer: Writer | None = None
        self.saver: FileSaver | None = None
        self.follower: SyncProcess | None = None
        self._lock: WriterLock | None = None
        self._monitor: Any = None
        self._console: Any = None
        self._console_buf: ConsoleBuffer | None = None
        self._tensorboard: Any = None  # logwriter/tensorboard/live.py, with sync_tensorboard
        self._base_seq = 0
        self._stopping = False
        self._follower_gone = False

    # -- start ---------------------------------------------------------------

    def open(self) -> tuple[bool, ResumeState]:
        """Create (or check, for a resume) the run directory, start the writer and queue
        the first record (RUN, or RESUME); returns (resumed, state replayed from the log)."""
        s = self.settings
        root = Path(self.run_dir)
        planned = plan_run_dir(root, s)
        if s.mode == "online":  # before anything is written: a refusal leaves no run behind
            from logwriter.session.syncproc import (
                start_online,  # subprocess & co: syncing modes only
            )

            self.follower = start_online(self.run_dir, s, planned[1].next_seq)
        try:
            self._lock, resumed, state = open_run_dir(root, s, planned)
            self._base_seq = state.next_seq
            self.writer = writer = Writer(
                root / LOG_DIR, state.next_seq, flush_interval=s.flush_interval, fsync=s.fsync,
                name=f"runwal-writer-{s.run_id}",
            )
        except BaseException:
            self._release_lock()
            self.stop_follower()
            raise
        now = time.time()
        stream = {"stream": s.stream} if s.shared else {}  # which process of a shared run
        if resumed:
            writer.put(int(RecordType.RESUME), now,
                       {"pid": os.getpid(), "host": os.uname().nodename,
                        "step": state.step, "base_seq": state.next_seq, **stream})
        else:
            settings_dict = s.as_dict()
            writer.put(int(RecordType.RUN), now,
                       lambda: {**_run_record(settings_dict), **stream})
        self.saver = FileSaver(root, writer.put, name=f"runwal-files-{s.run_id}",
                               recorded=state.files)
        return resumed, state

    def start_hybrid(self) -> None:
        """Hybrid mode: start the follower without waiting for the server."""
        if self.settings.mode == "hybrid":
            from logwriter.session.syncproc import start_hybrid

            self.follower = start_hybrid(self.run_dir, self.settings, self._base_seq)

    def start_watchers(self, emit_stats: Callable[[dict[str, float]], None]) -> None:
        """The follower check, console capture and system monitor, as the settings say."""
        s = self.settings
        writer = self.writer
        assert writer is not None
        if self.follower is not None:
            writer.add_periodic(self._check_follower, FOLLOWER_CHECK_S)
        if s.sync_tensorboard:
            from logwriter.tensorboard.live import start as start_tensorboard

            self._tensorboard = start_tensorboard(self.run_dir, writer.put, s.run_id)
        if s.capture_console:
            self._start_console(writer, s.flush_interval)
        if s.stats_interval > 0:
            try:
                from logwriter.machine.monitor import SystemMonitor

                monitor = SystemMonitor(emit_stats, s.stats_interval, disk_path=self.run_dir)
                monitor.start()
            except Exception:  # stats are optional
                return
            self._monitor = monitor

    def _start_console(self, writer: Writer, every: float) -> None:
        try:
            from logwriter.machine.console import ConsoleBuffer, ConsoleCapture

            buf = ConsoleBuffer(writer.put)
            capture = ConsoleCapture(buf.add)
        except Exception:  # console capture is optional
            return
        self._console_buf = buf
        writer.add_periodic(buf.drain_nowait, every)
        try:
            capture.start()
        except Exception:
            return
        self._console = capture

    # -- the follower (online/hybrid) ------------------------------------------

    def _check_follower(self) -> None:
        """Writer thread, every few seconds: a syncer that ended before the run did is
        reported once, as a warning at the next call (the run goes on locally)."""
        follower = self.follower
        if follower is None or self._stopping or follower.owner != os.getpid():
            return
        if follower.proc.poll() is None or self._follower_gone:
            return
        self._follower_gone = True
        why = follower.last_words() or f"status {follower.proc.returncode}"
        self.writer.notices.append((SyncWarning, (  # type: ignore[union-attr]
            f"runwal: the syncer of run {self.settings.run_id} stopped ({why}); the run goes "
            f"on logging locally and {follower.sync_hint()}"
        )))

    def stop_follower(self) -> None:
        """SIGTERM the follower: init failed after it started."""
        follower, self.follower = self.follower, None
        if follower is not None:
            follower.stop()

    @property
    def syncer_pid(self) -> int | None:
        return self.follower.pid if self.follower is not None else None

    # -- stop ----------------------------------------------------------------

    def stop_capture(self) -> str | None:
        """finish(), before the last records: stop the monitor and console capture and
        queue what they and the saver (``end`` and changed ``live`` files) still hold;
        returns the saver's one line about files it could not snapshot."""
        self._stopping = True
        for helper in (self._tensorboard, self._monitor, self._console):
            if helper is not None:
                with contextlib.suppress(Exception):  # finishing must go on
                    helper.stop()
        if self._console_buf is not None:
            self._console_buf.drain()
        if self.saver is not None:
            return self.saver.finish()
        return None

    def close_writer(self, timeout: float) -> str | None:
        """Close the writer within ``timeout`` s: None when it stopped, else a warning
        that says how many records may not be on disk, and where."""
        writer = self.writer
        if writer is None or writer.close(timeout):
            self._release_lock()
            return None
        return (
            f"runwal: finish() stopped waiting after {timeout:g}s for the writer of run "
            f"{self.settings.run_id}: up to {writer.backlog()} records may not be on disk in "
            f"{self.run_dir} (the disk is slow or stuck; the writer keeps trying while this "
            f"process lives; `runwal verify {self.run_dir}` shows what is there)"
        )

    def finish_sync(self, sync_wait: float | None) -> str | None:
        """Wait (bounded, progress on stderr) for the follower to deliver the EXIT: None
        when the server has the run (or there is no follower), else a warning."""
        follower, writer = self.follower, self.writer
        if follower is None or follower.owner != os.getpid() or writer is None:
            return None
        timeout = self.settings.sync_timeout if sync_wait is None else sync_wait
        last_seq = int(writer.stats()["next_seq"]) - 1
        return follower.finish(timeout, last_seq, self.settings.run_id, say,
                               not_when_down=self.settings.mode == "hybrid")

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def detach_after_fork(self) -> None:
        """In a forked child: drop the parent's follower, writer and lock (no writes through
        the parent's fd; the helper threads did not survive the fork; the parent's copy of
        the lock's fd keeps the run locked)."""
        follower, self.follower = self.follower, None
        if follower is not None:
            follower.forget()
        if self.writer is not None:
            self.writer.detach()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.forget()
        if self.saver is not None:
            self.saver.detach()
        self._monitor = self._console = None


def say(line: str) -> None:
    """Progress and problems of finish() that are no warning, on the real stderr."""
    stream = sys.stderr or sys.__stderr__
    if stream is not None:
        with contextlib.suppress(Exception):
            stream.write(line + "\n")
            stream.flush()


def _run_record(settings: dict[str, Any]) -> dict[str, Any]:
    """Body of the RUN record, evaluated on the writer thread (git can be slow), where
    machine/metadata.py is imported too. If that fails, the record still names the run and
    the process (and costs no subprocess)."""
    try:
        from logwriter.machine.metadata import run_record

        return run_record(settings)
    except Exception:  # ImportError or a helper bug: fall back
        body = {key: settings.get(key) for key in RECORDED_SETTINGS}
        body.update(started=time.time(), host=os.uname().nodename, pid=os.getpid(),
                    python=sys.version.split()[0], argv=list(sys.argv), cwd=os.getcwd())
        return clean_text_deep(body)
