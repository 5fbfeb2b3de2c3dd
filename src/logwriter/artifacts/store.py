"""The run's content-addressed store, ``files/artifacts/<sha256>``: bytes in and out.

In (``ingest``, on the caller's thread of log_artifact(); never on the writer
thread, whose stalls would hold back log()):

* a *mutable* source (wandb's default policy for ``add_file``: the user may
  rewrite it, e.g. ``torch.save`` to the same path next epoch) is copied,
  hashed in the same pass: one read, one write;
* an *immutable* source (``add_file(policy="immutable")``, files written by
  ``new_file()``) is hard-linked when source and run share a filesystem, and
  hashed by one read; copied when linking fails. A hard link shares the
  inode: rewriting the source in place would change the stored bytes, which
  is why it is opt-in, as in wandb.

Either way the bytes land under a temp name, are fsynced, and are renamed to
their sha256, so the store only ever holds whole files named by their
content; the same content twice is stored once. The store holds regular
files only (symlinks are followed when adding, never stored), so what the
syncer uploads from it is exactly the bytes the manifest lists.

Out (``materialise``): a copy (never a link: the user may edit what they
downloaded) to a temp name in the destination directory, hashed on the way
and checked against the entry before the rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from logwriter.artifacts.errors import ArtifactError
from schema.atomic import fsync_dir

STORE_DIR = "artifacts"  # under the run's files/
CHUNK = 1 << 20


def _tmp_in(directory: Path) -> Path:
    return directory / f".tmp-{os.getpid()}-{os.urandom(6).hex()}"


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(src: Path, dest: Path) -> str:
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dest, "xb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()


def ingest(src: Path, files_dir: Path, *, link: bool) -> tuple[str, int, bool]:
    """Put ``src``'s bytes in the store of the run whose files/ is ``files_dir``;
    returns (sha256, size, whether this call created the store file). OSError when
    reading or writing fails (nothing of this call is left behind then)."""
    store = files_dir / STORE_DIR
    if not files_dir.is_dir():  # the run directory is gone: never re-create it
        raise FileNotFoundError(2, "the run's files/ directory is gone", str(files_dir))
    store.mkdir(exist_ok=True)
    tmp = _tmp_in(store)
    try:
        sha = None
        if link:
            try:
                os.link(src, tmp)  # follows a symlinked src on Linux (linkat without flags)
            except OSError:
                pass
            else:
                sha = _hash_file(tmp)
        if sha is None:
            sha = _copy_hashing(src, tmp)
        size = tmp.stat().st_size
        dest = store / sha
        try:
            same = dest.stat().st_size == size
        except FileNotFoundError:
            same = False
        if same:  # already stored (named by its content)
            tmp.unlink()
        else:
            os.replace(tmp, dest)
            try:
                fsync_dir(store)  # raises when it fails: the new name may not survive
            except BaseException:
                discard(dest)
                raise
    except BaseException:
        discard(tmp)
        raise
    return sha, size, not same


def discard(path: Path) -> None:
    """Remove a store file this process created (a failed log_artifact gives its
    space back: on a full disk, orphans would keep it full)."""
    with contextlib.suppress(OSError):
        path.unlink()


def materialise(src: Path, dest: Path, sha256: str) -> None:
    """Copy a store file to ``dest`` (temp + rename), checking its sha256 on the way."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_in(dest.parent)
    try:
        got = _copy_hashing(src, tmp)
        if got != sha256:
            raise ArtifactError(f"runwal: the stored copy of an artifact file has sha256 "
                                f"{got[:12]}..., its record says {sha256[:12]}...",
                                path=str(src), hint="the producing run's files/artifacts "
                                "was modified; log the artifact again")
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
