"""Writing an imported run dir: the SDK's writer, the source's timestamps, exactly once.

Every importer describes its source as a `Source` (a stable run id, a
fingerprint, and a ``write`` that puts records through a `RunWriter`); this
module decides what a (re-)import does and writes the run dir:

=============================== ===============================================
the run dir ``RUNS/<run_id>``   what ``import_source`` does
=============================== ===============================================
does not exist                  import: written under ``RUNS/.importing/<run_id>``,
                                renamed into place when complete (a crash leaves
                                no half run where ``runwal sync RUNS`` would see it:
                                ``.importing`` itself is no run)
imported from this source,      ``unchanged``: nothing written, so a later
which has not changed           ``runwal sync`` sends nothing twice
imported, the source grew       ``appended``: a new segment (RESUME, the records
(files only got longer / new)   past what was read, a new EXIT), as a resumed
                                run; ``runwal sync`` sends only those
imported, the source changed    SourceChanged (exit 1): delete the run dir to
otherwise (shrunk, replaced)    import it again
anything else                   RunDirTaken (exit 1)
=============================== ===============================================

What was read is kept in ``sync/import.state`` (JSON: source kind and path,
fingerprint, cursor, next_seq), written atomically after the writer closed;
it is no sink checkpoint (``sync/*.json`` are), so ``runwal ls`` ignores it.

The records are the ones the SDK writes (docs/FORMAT.md), through its own
`logwriter.wal.writer.Writer`, with ``ts`` the source's time for each record:
writing a run dir is what the SDK does, and a second writer would be a
second implementation of the format's writer rules. That is why importing
lives here, and ``runwal import`` runs it as a process (`logwriter.importers.entry`).
`ImportResult` is `schema.import_protocol`'s, the shape both halves read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from logwriter.importers.errors import ImportProblem, RunDirTaken, SourceChanged
from schema.atomic import write_json_atomic
from schema.errors import HintError
from schema.import_protocol import APPENDED, DRY_RUN, FAILED, UNCHANGED, ImportResult
from schema.layout import FILES_DIR, LOG_DIR, RUN_JSON, SYNC_DIR
from schema.records import RecordType
from schema.segment import FORMAT_VERSION

STATE_NAME = "import.state"
IMPORTING = ".importing"  # RUNS/.importing/<run_id>: a fresh import until it is complete
STATE_VERSION = 1
WRITER_CLOSE_S = 120.0
TICK = 4096  # records between two progress updates


class RunWriter:
    """What a `Source` writes through: ``put(rtype, ts, body)`` into the run's WAL, the
    run's files/ dir, and counts. With ``writer=None`` (``--dry-run``) records are
    only counted and no file is written."""

    def __init__(self, writer: Any, files_dir: Path | None,
                 tick: Callable[[int], None] | None = None) -> None:
        self._writer = writer
        self.files_dir = files_dir
        self._tick = tick  # called with the points so far, every TICK records
        self._media: Any = None
        self.records = 0
        self.points = 0
        self.counts: Counter[str] = Counter()
        self.notes: list[str] = []

    def put(self, rtype: int, ts: float, body: Any, nbytes: int = 0) -> None:
        self.records += 1
        if rtype == RecordType.HISTORY:
            self.points += len(body["data"])
        if self._tick is not None and not self.records % TICK:
            self._tick(self.points)
        if self._writer is not None:
            self._writer.put(rtype, ts, body, nbytes)

    def media_file(self, kind: str, ext: str, data: bytes) -> dict[str, Any]:
        """``data`` under files/media/<kind>/<sha256>.<ext> (logwriter.media's store): the
        media item's ``file``, ``size`` and ``sha256``."""
        if self.files_dir is None:
            digest = hashlib.sha256(data).hexdigest()
            return {"file": f"media/{kind}/{digest}.{ext}", "size": len(data), "sha256": digest}
        if self._media is None:
            from logwriter.media.store import MediaStore

            self._media = MediaStore(self.files_dir)
        return self._media.put(kind, ext, data)

    def save_file(self, src: Path, rel: str, ts: float, policy: str = "now") -> None:
        """Copy ``src`` to files/<rel> and record it (a FILE record, as run.save() writes)."""
        data = src.read_bytes()
        if self.files_dir is not None:
            dest = self.files_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        self.put(int(RecordType.FILE), ts, {"path": rel, "size": len(data),
                                            "sha256": hashlib.sha256(data).hexdigest(),
                                            "policy": policy})
        self.counts["files"] += 1


class Source(Protocol):
    """One run to import. ``fingerprint`` changes when the source does; ``grown``
    says whether a new fingerprint only adds to an old one; ``write`` puts the
    records past ``cursor`` (None: from the start, RUN record first) and
    returns the new cursor."""

    kind: str
    path: Path
    run_id: str
    project: str
    name: str

    def fingerprint(self) -> Any: ...

    def grown(self, old: Any, new: Any) -> bool: ...

    def created(self) -> float: ...

    def write(self, out: RunWriter, cursor: Any) -> Any: ...


def stable_id(prefix: str, *parts: str) -> str:
    """A run id derived from the source alone: the same source, the same run."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{prefix}-{digest[:16]}"


def read_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / SYNC_DIR / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def import_source(src: Source, into: Path, *, dry_run: bool = False,
                  progress: Callable[[ImportResult], None] | None = None,
                  tick: Callable[[int], None] | None = None) -> ImportResult:
    """Import one source into ``into``; never raises for a bad source (status failed).
    ``progress`` gets the result at the end, ``tick`` the points written so far."""
    t0 = time.monotonic()
    res = ImportResult(source=str(src.path), kind=src.kind)
    try:
        res.run_id = src.run_id
        dest = into / src.run_id
        res.run_dir = str(dest)
        _import(src, into, dest, res, dry_run, tick)
    except (ImportProblem, HintError) as exc:  # HintError: the SDK's RunDirError (a lock)
        res.status, res.reason = FAILED, str(exc)
    except ValueError as exc:  # bytes of the source no decoder makes sense of
        res.status, res.reason = FAILED, f"{src.path}: cannot be read: {exc}"
    except OSError as exc:
        res.status, res.reason = FAILED, f"{exc.strerror or exc}: {exc.filename or src.path}"
    if res.status != FAILED and res.counts.get("damaged"):
        n = res.counts["damaged"]
        res.reason = f"{n} damaged region{'' if n == 1 else 's'} skipped (see notes)"
    res.seconds = time.monotonic() - t0
    if progress is not None:
        progress(res)
    return res


def _import(src: Source, into: Path, dest: Path, res: ImportResult, dry_run: bool,
            tick: Callable[[int], None] | None) -> None:
    fp = src.fingerprint()
    state = read_state(dest) if dest.exists() else None
    cursor = None
    if dest.exists() or dest.is_symlink():
        if state is None or state.get("kind") != src.kind:
            raise RunDirTaken(f"{dest} exists and is not an import of {src.path}")
        if state.get("fingerprint") == fp:
            res.status = UNCHANGED
            return
        if not src.grown(state.get("fingerprint"), fp):
            raise SourceChanged(f"{src.path} changed since it was imported into {dest}, "
                                "and not by growing")
        cursor = state.get("cursor")
        res.status = APPENDED
    if dry_run:
        out = RunWriter(None, None, tick)
        src.write(out, cursor)
        res.status = DRY_RUN
        if cursor is not None:
            res.reason = "would append what the source gained since it was imported"
        _fill(res, out)
        return
    if cursor is None:
        _fresh(src, into, dest, fp, res, tick)
    else:
        assert state is not None
        _append(src, dest, fp, state, res, tick)


def _fill(res: ImportResult, out: RunWriter) -> None:
    res.records, res.points = out.records, out.points
    res.counts = dict(out.counts)
    res.notes += out.notes


def _fresh(src: Source, into: Path, dest: Path, fp: Any, res: ImportResult,
           tick: Callable[[int], None] | None) -> None:
    tmp = into / IMPORTING / src.run_id
    if tmp.exists():
        shutil.rmtree(tmp)  # an import that was interrupted: never renamed, never synced
    try:
        (tmp / LOG_DIR).mkdir(parents=True)
        (tmp / FILES_DIR).mkdir()
        write_json_atomic(tmp / RUN_JSON, {"run_id": src.run_id, "project": src.project,
                                           "name": src.name, "created": src.created(),
                                           "format": FORMAT_VERSION})
        cursor, next_seq = _write(src, tmp, 0, None, res, tick)
        _save_state(tmp, src, fp, cursor, next_seq)
    except BaseException:  # e.g. a full disk: the half import is no run; give its space back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, dest)
    with contextlib.suppress(OSError):  # another import may be using it
        tmp.parent.rmdir()


def _append(src: Source, dest: Path, fp: Any, state: dict[str, Any], res: ImportResult,
            tick: Callable[[int], None] | None) -> None:
    from logwriter.session.resume import read_state as read_log

    next_seq = read_log(dest).next_seq
    if next_seq != state.get("next_seq"):
        raise SourceChanged(f"{dest} holds records past its last complete import (an "
                            "interrupted re-import)")
    cursor, next_seq = _write(src, dest, next_seq, state.get("cursor"), res, tick)
    _save_state(dest, src, fp, cursor, next_seq)


def _write(src: Source, run_dir: Path, base_seq: int, cursor: Any, res: ImportResult,
           tick: Callable[[int], None] | None) -> tuple[Any, int]:
    from logwriter.wal.writer import Writer
    from logwriter.wal.writerlock import WriterLock

    lock = WriterLock.acquire(run_dir / LOG_DIR, src.run_id)
    try:
        writer = Writer(run_dir / LOG_DIR, base_seq, fsync="finish",
                        name=f"runwal-import-{src.run_id}")
        out = RunWriter(writer, run_dir / FILES_DIR, tick)
        try:
            if cursor is not None:
                out.put(int(RecordType.RESUME), time.time(),
                        {"pid": os.getpid(), "host": socket.gethostname(), "step": 0,
                         "base_seq": base_seq})
            new_cursor = src.write(out, cursor)
        finally:
            stopped = writer.close(WRITER_CLOSE_S)
        if not stopped or writer.dropped:
            raise ImportProblem(f"the writer of {run_dir} lost {writer.dropped} records "
                                f"({writer.last_error or 'it did not stop'})")
        next_seq = int(writer.stats()["next_seq"])
    finally:
        if lock is not None:
            lock.release()
    _fill(res, out)
    return new_cursor, next_seq


def _save_state(run_dir: Path, src: Source, fp: Any, cursor: Any, next_seq: int) -> None:
    (run_dir / SYNC_DIR).mkdir(exist_ok=True)
    write_json_atomic(run_dir / SYNC_DIR / STATE_NAME, {
        "version": STATE_VERSION, "kind": src.kind, "source": str(src.path),
        "fingerprint": fp, "cursor": cursor, "next_seq": next_seq,
    })
