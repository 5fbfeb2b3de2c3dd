"""The files ``media`` and ``artifact`` records name, and whether ``files/`` has them.

`record_files` lists (path, size, sha256) for each file a record names (media
items, table image cells are inside the table file and not listed, artifact
entries with a file); `check_file` says what is wrong with one of them: missing,
not a regular file or reached through a link (read only through
`syncer.runfiles`, as the syncer reads it), or another size or sha256
than the record says. ``verify`` notes each problem (not damage: the log is
intact); ``show`` marks missing files. `record_error` is the note for a media
record the SDK wrote with an ``error`` (some files never stored).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from schema.records import Record, RecordType
from syncer.runfiles import RefusedPath, open_run_file

FileRef = tuple[str, int | None, str | None]  # (path under files/, size, sha256)


def record_files(rec: Record) -> list[FileRef]:
    body = rec.body if isinstance(rec.body, dict) else {}
    if rec.type == RecordType.MEDIA:
        entries = body.get("items")
    elif rec.type == RecordType.ARTIFACT:
        entries = body.get("entries")
    else:
        return []
    out: list[FileRef] = []
    for e in entries if isinstance(entries, list) else ():
        if isinstance(e, dict) and isinstance(e.get("file"), str):
            size, sha = e.get("size"), e.get("sha256")
            out.append((e["file"], size if type(size) is int else None,
                        sha if isinstance(sha, str) and sha else None))
    return out


def saved_file(rec: Record) -> FileRef | None:
    """The file a ``file`` record (run.save()) says ``files/<path>`` holds, or None.
    Only the last record of a path can still be true: a later save replaces it."""
    body = rec.body if isinstance(rec.body, dict) else {}
    if rec.type != RecordType.FILE or not isinstance(body.get("path"), str):
        return None
    size, sha = body.get("size"), body.get("sha256")
    return (body["path"], size if type(size) is int else None,
            sha if isinstance(sha, str) and sha else None)


def check_file(run_dir: str | os.PathLike[str], ref: FileRef, *, hash_it: bool = True
               ) -> str | None:
    """Why ``files/<path>`` does not hold what the record says, or None when it does."""
    path, size, sha = ref
    try:
        fd = open_run_file(run_dir, path)
    except RefusedPath as exc:
        return str(exc)
    with os.fdopen(fd, "rb") as fh:
        have = os.fstat(fh.fileno()).st_size
        if size is not None and have != size:
            return f"files/{path} holds {have} bytes, the record says {size}"
        if not hash_it or sha is None:
            return None
        digest = hashlib.sha256()
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != sha.lower():
        return f"files/{path} has sha256 {digest.hexdigest()[:12]}…, the record says {sha[:12]}…"
    return None


def exists(run_dir: Path, path: str) -> bool:
    return check_file(run_dir, (path, None, None), hash_it=False) is None


def record_error(rec: Record) -> str | None:
    """The note for a media record the SDK wrote with an ``error`` (files not stored)."""
    body = rec.body if isinstance(rec.body, dict) else {}
    if rec.type != RecordType.MEDIA or not isinstance(body.get("error"), str):
        return None
    return (f"seq {rec.seq}: media {str(body.get('key'))[:80]}: the SDK could not store every "
            f"file: {body['error'][:200]}")
