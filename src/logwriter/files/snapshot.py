"""One snapshot of one saved file: its bytes put under ``files/``, and the FILE body.

The saver (save.py) decides what to snapshot and when; this module is how
the bytes get there and what the record says about them:

* ``place()``: link or copy ``src`` to a temp name beside ``dest``
  (``.<name>.<pid>.tmp``, a name the run.dir walk and the syncer skip:
  dirfiles.py) and rename it into place, so a syncer never reads a
  half-copied file and a failure leaves no temp behind. A hard link is free
  for a multi-GB checkpoint on the same filesystem; where it fails (another
  filesystem, EXDEV) the bytes are copied. The link and copy functions are
  passed in: they are the saver's seams for fault tests.
* ``file_body()``: the FILE record of a snapshot, ``{"path", "size",
  "sha256", "policy"}``, and the (mtime_ns, size) the file had before it was
  hashed: the saver compares that stamp to tell a changed file from one it
  need not read again. The file and its directory entry are fsync'd while it
  is hashed, before the record is queued: after a power cut a FILE record
  that survived names a file that did (before, a cut could lose every file
  ever saved while their records stayed).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schema.atomic import fsync_dir

Stamp = tuple[int, int]  # (st_mtime_ns, st_size)


def sha256_of(path: Path, *, durable: bool = False) -> str:
    """The file's sha256; ``durable``: also fsync it and its directory entry, so that a
    record naming it never outlives it at a power cut."""
    import hashlib  # only a save() pays for it

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
        if durable:
            os.fsync(fh.fileno())
    if durable:
        fsync_dir(path.parent)
    return digest.hexdigest()


def copy(src: Path, dest: Path) -> None:
    import shutil  # only a save() pays for it

    shutil.copy2(src, dest)


def stamp(src: Path) -> Stamp | None:
    """(mtime_ns, size) of ``src``, None when it cannot be looked at."""
    try:
        st = src.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def place(src: Path, dest: Path, *, link: Callable[[Path, Path], None] | None,
          copy: Callable[[Path, Path], None]) -> None:
    """Put ``src``'s bytes at ``dest`` through a temp name: hard-linked with ``link``
    when given and it works, else copied; raises OSError when neither does."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        linked = False
        if link is not None:
            try:
                link(src, tmp)
                linked = True
            except OSError:
                linked = False
        if not linked:
            copy(src, tmp)
        os.replace(tmp, dest)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def file_body(dest: Path, rel: str, policy: str) -> tuple[dict[str, Any], Stamp]:
    """The FILE record of ``dest``, and its (mtime_ns, size) from before the hash."""
    st = dest.stat()
    body = {"path": rel, "size": st.st_size, "sha256": sha256_of(dest, durable=True),
            "policy": policy}
    return body, (st.st_mtime_ns, st.st_size)
