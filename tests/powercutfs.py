"""A FUSE filesystem that loses, at a "power cut", everything not yet fsync'd.

Usage: python powercutfs.py BACKING MOUNTPOINT IMAGE [--torn drop|zeros] [--eio-fsyncdir]
       [--no-flock]

It passes every call through to the directory BACKING, so programs on
MOUNTPOINT see an ordinary local filesystem. Beside that it keeps, in memory,
what a disk would still hold after power is lost, by the POSIX rules that
ext4 and xfs honour at their strictest:

* a file's bytes are durable as of its last ``fsync``/``fdatasync``;
* a directory's entries (names, and which file each names) are durable as of
  that directory's last fsync: a new file, a ``mkdir``, a ``rename`` or an
  ``unlink`` is lost until its directory is fsync'd, even where the file's own
  bytes were fsync'd;
* what BACKING held when mounted is durable.

Unmounting (``fusermount3 -u MOUNTPOINT``) is the power cut: the process writes
the durable state, and only that, as a directory tree into IMAGE, and exits.
The programs that wrote must have been killed first (kill -9: nothing they had
not fsync'd survives either way). ``--torn zeros`` imitates a journal that
committed a file's new size but not its data (ext4 ``data=writeback``, xfs):
a file keeps its size at the cut, with every byte past its last fsync zero.
``--eio-fsyncdir`` makes every directory fsync fail with EIO (a disk going bad,
an NFS server gone), for the callers that must report it. ``--no-flock``
refuses every flock with ENOLCK, as NFS without a lock manager and Lustre
mounted ``noflock`` do.

Files are followed by a node number of our own, given at creation, so an inode
number the backing filesystem reuses is never taken for the file that had it.
Hard links share a node. ``flock`` is left to the kernel (local to this
mount), as FUSE does for a filesystem without a lock method.

Tests start it with ``powercut_mount`` (tests/powercut.py).
"""

from __future__ import annotations

import argparse
import errno
import itertools
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import mfusepy as fuse


class PowerCutFS(fuse.Operations):  # type: ignore[misc]
    """Passthrough to ``root`` that remembers what fsync made durable."""

    use_ns = True

    def __init__(self, root: str, image: str, torn: str, eio_fsyncdir: bool = False,
                 no_flock: bool = False) -> None:
        self.root = os.path.realpath(root)
        self.image = os.path.abspath(image)  # libfuse may change the working directory
        self.torn = torn
        self.eio_fsyncdir = eio_fsyncdir
        if not no_flock:  # without the method the kernel keeps flock local to the mount
            self.flock = None  # type: ignore[assignment]
        self._mutex = threading.Lock()
        self._ids = itertools.count(1)
        self.node_of_ino: dict[int, int] = {}
        self.kind: dict[int, str] = {}  # node -> "dir" | "file" | "link"
        self.data: dict[int, bytes] = {}  # node -> bytes as of its last fsync
        self.entries: dict[int, dict[str, int]] = {}  # dir node -> durable entries
        self.target: dict[int, str] = {}  # link node -> target
        # node -> byte ranges written since its last fsync (None: read it all again), so
        # an fsync costs what was written since, not the file's size: a WAL's fsyncs
        # must not slow down as its segment grows, or the figures measure this file
        self.dirty: dict[int, list[tuple[int, int]] | None] = {}
        self.root_node = self._adopt(self.root)

    # -- the durable model ----------------------------------------------------

    def _real(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _node(self, real: str, *, new: bool = False) -> int:
        st = os.lstat(real)
        if new or st.st_ino not in self.node_of_ino:
            self.node_of_ino[st.st_ino] = next(self._ids)
            node = self.node_of_ino[st.st_ino]
            if stat.S_ISDIR(st.st_mode):
                self.kind[node] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                self.kind[node] = "link"
            else:
                self.kind[node] = "file"
        return self.node_of_ino[st.st_ino]

    def _adopt(self, real: str) -> int:
        """What BACKING holds at mount time is durable."""
        node = self._node(real)
        if self.kind[node] == "dir":
            self.entries[node] = {name: self._adopt(os.path.join(real, name))
                                  for name in os.listdir(real)}
        elif self.kind[node] == "link":
            self.target[node] = os.readlink(real)
        else:
            self.data[node] = Path(real).read_bytes()
        return node

    def _listing(self, real: str) -> dict[str, int]:
        out = {}
        for name in os.listdir(real):
            child = os.path.join(real, name)
            node = self._node(child)
            if self.kind[node] == "link":
                self.target[node] = os.readlink(child)
            out[name] = node
        return out

    def materialize(self) -> None:
        """Write the durable state into ``image`` (the power cut)."""
        os.makedirs(self.image, exist_ok=True)
        self._write_dir(self.root_node, self.image, self.root)

    def _write_dir(self, node: int, dest: str, real: str | None) -> None:
        for name, child in sorted(self.entries.get(node, {}).items()):
            path = os.path.join(dest, name)
            child_real = os.path.join(real, name) if real is not None else None
            kind = self.kind[child]
            if kind == "dir":
                os.mkdir(path)
                self._write_dir(child, path, child_real)
            elif kind == "link":
                os.symlink(self.target[child], path)
            else:
                Path(path).write_bytes(self._file_bytes(child, child_real))

    def _file_bytes(self, node: int, real: str | None) -> bytes:
        durable = self.data.get(node, b"")
        if self.torn != "zeros" or real is None:
            return durable
        try:
            st = os.lstat(real)
        except OSError:
            return durable
        if self.node_of_ino.get(st.st_ino) != node or st.st_size <= len(durable):
            return durable
        return durable + b"\0" * (st.st_size - len(durable))

    # -- what makes things durable ------------------------------------------

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        os.fsync(fh)
        with self._mutex:
            node = self.node_of_ino.get(os.fstat(fh).st_ino)
            if node is not None:
                self.data[node] = self._read_durable(node, fh)
        return 0

    def _read_durable(self, node: int, fh: int) -> bytes:
        """The file's bytes now: the last durable copy patched with the ranges written
        since (the whole file when that is not known)."""
        ranges = self.dirty.pop(node, None)
        rfd = os.open(f"/proc/self/fd/{fh}", os.O_RDONLY)
        try:
            size = os.fstat(rfd).st_size
            if ranges is None or node not in self.data:
                chunks = []
                while chunk := os.read(rfd, 1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks)
            out = bytearray(self.data[node])
            for offset, length in ranges:
                if len(out) < offset + length:
                    out.extend(b"\0" * (offset + length - len(out)))
                out[offset:offset + length] = os.pread(rfd, length, offset).ljust(length, b"\0")
            del out[size:]
            return bytes(out)
        finally:
            os.close(rfd)

    def _written(self, fh: int, offset: int, length: int) -> None:
        with self._mutex:
            node = self.node_of_ino.get(os.fstat(fh).st_ino)
            if node is not None:
                ranges = self.dirty.get(node, [])
                if ranges is not None:
                    ranges.append((offset, length))
                    self.dirty[node] = ranges

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        if self.eio_fsyncdir:
            raise fuse.FuseOSError(errno.EIO)
        real = self._real(path)
        with self._mutex:
            node = self._node(real)
            self.entries[node] = self._listing(real)
        return 0

    # -- passthrough ---------------------------------------------------------

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.lstat(self._real(path)) if fh is None else os.fstat(fh)
        return {key: getattr(st, key) for key in (
            "st_atime_ns", "st_ctime_ns", "st_gid", "st_mode", "st_mtime_ns", "st_nlink",
            "st_size", "st_uid", "st_ino")}

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    def mkdir(self, path: str, mode: int) -> int:
        real = self._real(path)
        os.mkdir(real, mode)
        with self._mutex:
            self._node(real, new=True)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def unlink(self, path: str) -> int:
        os.unlink(self._real(path))
        return 0

    def symlink(self, target: str, source: str) -> int:
        real = self._real(target)
        os.symlink(source, real)
        with self._mutex:
            node = self._node(real, new=True)
            self.target[node] = source
        return 0

    def link(self, target: str, source: str) -> int:
        os.link(self._real(source), self._real(target))
        return 0

    def rename(self, old: str, new: str) -> int:
        os.rename(self._real(old), self._real(new))
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._real(path), ns=times)
        return 0

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        real = self._real(path)
        if fh is None:
            os.truncate(real, length)
        else:
            os.ftruncate(fh, length)
        with self._mutex:
            node = self.node_of_ino.get(os.lstat(real).st_ino)
            if node is not None:
                self.dirty[node] = None  # read it all at the next fsync
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._real(path))
        return {key: getattr(st, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    def open(self, path: str, flags: int) -> int:
        fd = os.open(self._real(path), flags)
        if flags & os.O_TRUNC:
            with self._mutex:
                node = self.node_of_ino.get(os.fstat(fd).st_ino)
                if node is not None:
                    self.dirty[node] = None
        return fd

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        real = self._real(path)
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with self._mutex:
            node = self._node(real, new=True)
            self.dirty[node] = None
        return fd

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        written = os.pwrite(fh, data, offset)
        self._written(fh, offset, written)
        return written

    def flush(self, path: str, fh: int) -> int:
        return 0

    def flock(self, path: str, fh: int, op: int) -> int:  # only with --no-flock
        raise fuse.FuseOSError(errno.ENOLCK)

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("image")
    parser.add_argument("--torn", choices=("drop", "zeros"), default="drop")
    parser.add_argument("--eio-fsyncdir", action="store_true")
    parser.add_argument("--no-flock", action="store_true")
    args = parser.parse_args(argv)
    fs = PowerCutFS(args.backing, args.image, args.torn, args.eio_fsyncdir, args.no_flock)
    fuse.FUSE(fs, args.mountpoint, foreground=True, nothreads=False, allow_other=False,
              default_permissions=False)
    fs.materialize()  # FUSE() returns once unmounted: the cut
    return 0


if __name__ == "__main__":
    sys.exit(main())
