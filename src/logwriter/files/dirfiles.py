"""The files a script wrote into ``run.dir`` (the run's ``files/``) without saving them.

wandb uploads every file in ``wandb.run.dir`` when the run ends, saved or not
(``torch.save(model.state_dict(), os.path.join(wandb.run.dir, "model.pt"))``).
runwal does the same through the log: at finish() the saver (save.py)
walks ``files/`` with ``candidates()`` and queues a FILE record (policy
``end``, size and sha256) for each regular file that no FILE record names
with those bytes, so ``runwal sync`` uploads it at its path, as any saved
file.

What the walk leaves alone:

* runwal's own content: ``files/media/`` (media/store.py) and
  ``files/artifacts/`` (artifacts/store.py), whose files their own records
  name, and the stores' temp names (``.<name>.<pid>[.<tid>].tmp``,
  ``.tmp-<pid>-<hex>``): a file being renamed into place, or left by a kill;
* a file already recorded at the same path with the same sha256, by this
  process or, for a resumed run, by an earlier one (session/resume.py replays their
  FILE records): a saved file is not recorded twice, one rewritten since its
  snapshot is recorded again;
* symbolic links, to files or to directories: never followed, nothing is
  recorded for them (the syncer refuses any path through a link,
  syncer/runfiles.py); FIFOs and other non-regular files;
* files that vanish between the listing and the hash.

The cost is in finish(), on the caller's thread, after the saver thread was
joined: each file the walk finds is read once to hash it (a multi-GB
checkpoint left in run.dir costs finish() about a second per GB), except a
file this process hashed for its own record whose mtime and size have not
changed since (a saved checkpoint is not read twice). A resumed run's
finish() hashes the files earlier processes recorded, to compare. The walk
records at most MAX_FILES files per process, and says how many it left out
(a SaveWarning).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

# The stores under files/: media/store.py's MEDIA_DIR and artifacts/store.py's STORE_DIR
# (tests/logwriter/session/test_wandb_semantics.py pins both; importing the artifacts package
# here would cost every init()).
STORE_DIRS = ("media", "artifacts")
MAX_FILES = 10_000
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def is_temp(name: str) -> bool:
    """A store's or the saver's temp name: a file on its way to its real name."""
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith(".tmp-"))


def stores_own(rel: PurePosixPath) -> bool:
    """A path under files/ that runwal's stores own (``rel`` relative to files/)."""
    return bool(rel.parts) and (rel.parts[0] in STORE_DIRS or is_temp(rel.name))


def hash_regular(path: Path) -> tuple[int, str] | None:
    """(size, sha256) of the regular file at ``path``, reached without following a
    link at its last component; None for a link, a FIFO, a directory or a file that
    is gone. Other errors (EACCES, EIO) are raised."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR):  # ELOOP: a link
            return None
        raise
    with contextlib.closing(os.fdopen(fd, "rb")) as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = hashlib.sha256()
        size = 0
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def candidates(files_dir: Path) -> Iterator[tuple[Path, PurePosixPath, tuple[int, int]]]:
    """The regular files under ``files_dir`` outside the stores, sorted per directory,
    as (absolute path, path relative to files/, (mtime_ns, size)); links are not
    followed."""
    for top, dirs, names in os.walk(files_dir, onerror=lambda exc: None):
        rel_top = PurePosixPath(Path(top).relative_to(files_dir).as_posix())
        if rel_top == PurePosixPath("."):
            dirs[:] = [d for d in dirs if d not in STORE_DIRS]
        dirs.sort()
        for name in sorted(names):
            rel = rel_top / name if rel_top != PurePosixPath(".") else PurePosixPath(name)
            if is_temp(name):
                continue
            path = Path(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield path, rel, (st.st_mtime_ns, st.st_size)
