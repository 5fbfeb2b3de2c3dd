"""Opening a file of a run's ``files/`` (to upload, export or check it), never anything outside it.

A FILE record names a path relative to ``files/``; the record and the
directory may both be forged (a run dir copied from elsewhere, a hostile
user). So a path is refused, with the reason, when it is absolute, climbs
with ``..``, or reaches its file through a symbolic link anywhere below the
run directory: ``files/`` itself, a directory inside it, or the file. The
walk opens one component at a time relative to the previous one with
``O_NOFOLLOW`` (`os.open` with ``dir_fd``), so a link swapped in between a
check and the open cannot redirect it either; only regular files are
opened, and with ``O_NONBLOCK``, so a FIFO cannot hang the syncer. The run
directory's own path may go through links (``/scratch -> /lustre/...``): the
walk starts inside it.

The one way the syncer reads a run's files: the engine (`dir_problem` for
``sync/``), the sinks (uploads) and `syncer.inspect` (media, ``export``) all
come here, so it sits beside them rather than inside any one of them.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from schema.layout import FILES_DIR

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class RefusedPath(Exception):
    """A FILE record's path that will not be read; ``str()`` is the reason."""


def relative_parts(path: str) -> list[str]:
    """The components of a FILE record's path, or RefusedPath saying why not."""
    if "\x00" in path:
        raise RefusedPath("the path holds a NUL character")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise RefusedPath("an absolute path (a FILE path is relative to files/)")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if ".." in parts:
        raise RefusedPath("the path climbs out of files/ with '..'")
    if not parts:
        raise RefusedPath("the path names files/ itself")
    return parts


def open_run_file(run_dir: str | os.PathLike[str], path: str) -> int:
    """A read-only fd of the regular file ``files/<path>`` of ``run_dir``, reached
    without following any link; RefusedPath with the reason otherwise (a file
    missing on disk included). The caller closes the fd."""
    parts = relative_parts(path)
    try:
        dfd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise RefusedPath(f"the run directory cannot be opened ({exc.strerror})") from None
    try:
        shown = ""
        for name in [FILES_DIR, *parts[:-1]]:
            shown = f"{shown}/{name}" if shown else name
            try:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            except OSError as exc:
                raise RefusedPath(_why(exc, shown, directory=True, link=_is_link(name, dfd))
                                  ) from None
            os.close(dfd)
            dfd = nfd
        target = f"{FILES_DIR}/{'/'.join(parts)}"
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dfd)
        except OSError as exc:
            raise RefusedPath(_why(exc, target, directory=False)) from None
    finally:
        os.close(dfd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RefusedPath(f"{target} is not a regular file")
    return fd


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _why(exc: OSError, where: str, *, directory: bool, link: bool = False) -> str:
    if exc.errno == errno.ELOOP or link:
        return f"{where} is a symbolic link (links are never followed out of files/)"
    if exc.errno == errno.ENOTDIR and directory:
        return f"{where} is not a directory"
    if exc.errno == errno.ENOENT:
        return f"missing on disk: {where}"
    return f"{where} cannot be opened ({exc.strerror})"


def dir_problem(path: Path) -> str | None:
    """Why ``path`` is no real directory (a link to one, a file), or None: it is one,
    or it does not exist yet."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    return None if stat.S_ISDIR(mode) else "is not a directory"
