"""Files that are either old or new, never half written.

Write ``name.tmp``, fsync it, ``os.replace`` it over ``name``, fsync the
directory so the rename itself survives a power cut (the SQLite / litestream
recipe). Used for run.json (SDK) and sync checkpoints (syncer); `write_all` also
for the files that are replaced without fsync (media) or appended to (the
syncer's console spool).

A new directory is a new entry in its parent: it survives a power cut only once
the parent is fsync'd too (`make_dirs`), or a run's whole directory, fsync'd
run.json and segments included, is gone after the cut. A directory fsync that
fails is an OSError for the caller to report, never swallowed: the entries it
should have kept may be lost. Only a filesystem that cannot fsync directories
at all (EINVAL, ENOTSUP) makes it a no-op.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: str | os.PathLike[str], data: bytes, *,
                 tmp: str | os.PathLike[str] | None = None) -> None:
    """``path`` holds ``data`` whole or not at all, durably: written to ``tmp`` (default
    ``<name>.<pid>.tmp`` beside it), fsync'd, renamed, and the directory fsync'd."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:  # a full disk: no half-written temp file left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _write_synced(path: Path, data: bytes) -> None:
    """Create (or truncate) ``path`` holding ``data``, fsync'd."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: one ``os.write`` may take less than it is given
    (a signal, a full pipe, a file system's limit per call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def create_json_once(path: str | os.PathLike[str], obj: Any) -> bool:
    """Write ``obj`` to ``path`` unless the file exists, atomically even when several
    processes race to create it (a shared run's run.json): the bytes go to a temp
    file, which is hard-linked into place; the link fails when another got there
    first. True when this call created it. Filesystems without hard links fall
    back to a rename, where the last of racing writers wins (the same identity)."""
    path = Path(path)
    if path.exists():
        return False
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.once.tmp")
    try:
        _write_synced(tmp, data)
        try:
            os.link(tmp, path)
            made = True
        except FileExistsError:
            made = False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                                 errno.EMLINK):
                raise
            os.replace(tmp, path)  # no hard links here
            made = True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    if made:
        fsync_dir(path.parent)
    return made


# fsync(2) on a directory of a filesystem that has no such thing: nothing to persist
_NO_DIR_FSYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Persist a directory's entries (a file created, renamed or removed in it).

    Raises OSError when it fails (EIO: the entries may be lost at a power cut).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)


def make_dirs(path: str | os.PathLike[str], *, parents: bool = True) -> None:
    """``mkdir -p path``, durably: each directory it creates is fsync'd into its
    parent, so the chain from the first one that existed survives a power cut.
    ``parents=False``: only ``path`` itself may be made (FileNotFoundError when its
    parent is gone: a run dir deleted under a syncer is not re-created). Every
    writer of a directory that must survive creates it through here: one that made
    it with a plain mkdir would leave it undurable for the others, who find it.
    A no-op for a directory that exists; OSError as os.makedirs, or from fsync_dir."""
    path = Path(path)
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path or not parents:
            break
        path = path.parent
    for new in reversed(missing):
        try:
            new.mkdir()
        except FileExistsError:  # another process made it: fsync its entry all the same
            if not new.is_dir():
                raise
        fsync_dir(new.parent)
