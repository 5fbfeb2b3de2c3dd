"""Files that are either old or new, never half written.

Write ``name.tmp``, fsync it, ``os.replace`` it over ``name``, fsync the
directory so the rename itself survives a power cut (the SQLite / litestream
recipe). Used for run.json (SDK) and sync checkpoints (syncer); `write_all` also
for the files that are replaced without fsync (media) or appended to (the
syncer's console spool).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: one ``os.write`` may take less than it is given
    (a signal, a full pipe, a file system's limit per call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Persist a directory entry change; a no-op where directories can't be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
