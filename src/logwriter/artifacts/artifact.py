"""The Artifact object: a named, typed, versioned set of files (wandb's ``Artifact``).

Built by the user (``add_file``, ``add_dir``, ``add_reference``,
``new_file``), then logged with ``run.log_artifact(art)``, which copies the
bytes into the run's store, assigns the version and makes the object
immutable: ``art.version`` ("v3"), ``art.digest`` and ``art.aliases`` are
set when it returns (wandb sets them asynchronously; ``wait()`` is here for
its scripts and returns at once). ``use_artifact()`` returns the same class,
read from a record: ``download()``, ``get_entry()``/``get_path()``, ``file()``.

Sources are only remembered when added; their bytes are read when the
artifact is logged. ``add_dir`` follows symbolic links (to files and to
directories, each directory once): the store receives a real copy of what
a link points to and never a link, so nothing outside the listed entries is
ever stored or uploaded; a dangling link is an ArtifactError naming it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from logwriter.artifacts.errors import ArtifactError
from logwriter.artifacts.manifest import Entry
from logwriter.artifacts.names import check_entry_path, check_name
from logwriter.artifacts.store import materialise
from logwriter.values.convert import check_key, convert
from logwriter.values.text import clean_text
from schema.layout import FILES_DIR

POLICIES = ("mutable", "immutable")
WRITE_MODES = ("w", "wb", "x", "xb", "w+", "wb+", "x+", "xb+")


class Artifact:
    """``Artifact(name, type, description=None, metadata=None)``, as in wandb."""

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name = check_name(name)
        self.type = check_name(type, "type")
        if description is not None and not isinstance(description, str):
            raise ArtifactError("runwal: Artifact(description=) must be a str")
        self.description = clean_text(description) if description is not None else None
        self.metadata = _check_metadata(metadata)
        # path in the artifact -> (source file, link it) or a reference Entry
        self._sources: dict[str, tuple[Path, bool] | Entry] = {}
        self._staging: Path | None = None
        # Set once logged or read from a record:
        self.version: str | None = None
        self.digest: str | None = None
        self.aliases: list[str] = []
        self.source_run: str | None = None  # id of the run that logged it
        self._entries: list[Entry] | None = None
        self._run_dir: Path | None = None
        # Resolved from the tracking server (remote.py): fetches file entries to
        # root/<entry path>, through one `runwal artifact get` child process a call.
        self._fetch: Callable[[list[Entry], Path], None] | None = None

    # -- building ------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def logged(self) -> bool:
        return self._entries is not None

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None,
                 policy: str = "mutable") -> Entry:
        """Add one file as ``name`` (default: its file name). ``policy="immutable"``
        promises the file will not change, so it may be hard-linked (wandb's policy)."""
        self._check_open()
        link = _links("add_file", policy)
        src = Path(local_path)
        if not src.is_file():
            raise ArtifactError(f"runwal: add_file(): {os.fspath(local_path)!r} is not a "
                                "file" + (" (a dangling link)" if src.is_symlink() else ""))
        path = check_entry_path(name if name is not None else src.name)
        return self._add(path, src.resolve(), link=link)

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None,
                policy: str = "mutable") -> list[Entry]:
        """Add every file under a directory, as ``name/<relative path>`` (or the relative
        path alone); links are followed, each directory once (see the module docs)."""
        self._check_open()
        link = _links("add_dir", policy)
        root = Path(local_path)
        if not root.is_dir():
            raise ArtifactError(f"runwal: add_dir(): {os.fspath(local_path)!r} is not a "
                                "directory")
        prefix = check_entry_path(name) + "/" if name else ""
        found: list[tuple[str, Path]] = []
        seen: set[Path] = set()
        for here, dirs, files in os.walk(root, followlinks=True):
            real = Path(here).resolve()
            if real in seen:  # a link back up the tree, or twice to one place
                dirs[:] = []
                continue
            seen.add(real)
            dirs.sort()
            for fname in sorted(files):
                src = Path(here) / fname
                rel = src.relative_to(root).as_posix()
                if not src.is_file():
                    raise ArtifactError(f"runwal: add_dir(): {str(src)!r} is a dangling link "
                                        "or not a regular file; remove it or add_dir a "
                                        "directory without it")
                found.append((check_entry_path(prefix + rel), src.resolve()))
        return [self._add(path, src, link=link) for path, src in found]

    def add_reference(self, uri: str, name: str | None = None) -> Entry:
        """Record a URI (s3://, https://, file://, ...) as an entry; nothing is copied or
        fetched, and download() lists it without fetching it."""
        self._check_open()
        if not isinstance(uri, str) or not uri:
            raise ArtifactError("runwal: add_reference(): uri must be a non-empty str")
        default = uri.rstrip("/").rsplit("/", 1)[-1] or "reference"
        path = check_entry_path(name if name is not None else default)
        self._claim(path)
        entry = Entry(path, ref=clean_text(uri))
        self._sources[path] = entry
        return entry

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w", encoding: str | None = None
                 ) -> Iterator[IO[Any]]:
        """``with art.new_file("labels.json") as f: f.write(...)``: a file written into
        the artifact's staging directory, added when the block ends."""
        self._check_open()
        if mode not in WRITE_MODES:
            raise ArtifactError(f"runwal: new_file(mode={mode!r}): expected one of "
                                f"{WRITE_MODES}")
        path = check_entry_path(name)
        self._claim(path)
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="runwal-artifact-"))
            weakref.finalize(self, shutil.rmtree, self._staging, ignore_errors=True)
        dest = self._staging / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, mode, encoding=encoding if "b" not in mode else None) as fh:
            yield fh
        self._sources[path] = (dest, True)  # ours, never rewritten: linking is safe

    def _add(self, path: str, src: Path, *, link: bool) -> Entry:
        self._claim(path)
        self._sources[path] = (src, link)
        return Entry(path)

    def _claim(self, path: str) -> None:
        if path in self._sources:
            raise ArtifactError(f"runwal: artifact {self._name!r} already has an entry "
                                f"{path!r}; pass name= to add it under another path")

    def _check_open(self) -> None:
        if self.logged:
            raise ArtifactError(f"runwal: artifact {self._name!r} is logged ({self.version}) "
                                "and cannot change; build a new Artifact for a new version")

    # -- logged ----------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Artifact:
        """wandb waits for the upload here; runwal's log_artifact() already returned
        with the version assigned."""
        return self

    @property
    def manifest(self) -> list[Entry]:
        """The entries, sorted by path (once logged or used)."""
        return list(self._need_logged("manifest"))

    def get_entry(self, name: str) -> Entry:
        for entry in self._need_logged("get_entry()"):
            if entry.path == name:
                return entry
        raise ArtifactError(f"runwal: artifact {self._name}:{self.version} has no entry "
                            f"{name!r}", hint="art.manifest lists the entries")

    get_path = get_entry  # wandb's older name

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Copy the files out of the producing run into ``root`` (default
        ``./artifacts/<name>:v<N>``, as wandb); references are listed in
        ``manifest``, not fetched. Returns the root."""
        entries = self._need_logged("download()")
        dest = self._root(root)
        files = [entry for entry in entries if entry.ref is None]
        if self._fetch is not None and files:
            self._fetch(files, dest)  # from the server: all of them in one go
        else:
            for entry in files:
                self._download_entry(entry, dest)
        dest.mkdir(parents=True, exist_ok=True)
        return str(dest)

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """The one file of a single-file artifact, downloaded; returns its path."""
        files = [e for e in self._need_logged("file()") if e.ref is None]
        if len(files) != 1:
            raise ArtifactError(f"runwal: file() needs an artifact with exactly one file; "
                                f"{self._name}:{self.version} has {len(files)}",
                                hint="use download() and pick the file")
        return str(self._download_entry(files[0], self._root(root)))

    def _root(self, root: str | os.PathLike[str] | None) -> Path:
        if root is not None:
            return Path(root)
        return Path("artifacts") / f"{self._name}:{self.version}"

    def _download_entry(self, entry: Entry, root: str | os.PathLike[str] | Path | None
                        ) -> Path:
        if entry.ref is not None:
            raise ArtifactError(f"runwal: entry {entry.path!r} is a reference to "
                                f"{entry.ref!r}; references are listed, not fetched")
        base = Path(root) if root is not None else self._root(None)
        dest = base / check_entry_path(entry.path)
        assert entry.store_file and entry.sha256
        if self._fetch is not None:
            self._fetch([entry], base)
            return dest
        assert self._run_dir is not None
        src = self._run_dir / FILES_DIR / entry.store_file
        if not src.is_file():
            raise ArtifactError(f"runwal: {self._name}:{self.version} lost its copy of "
                                f"{entry.path!r}", path=str(src),
                                hint="the producing run's files/artifacts was modified")
        materialise(src, dest, entry.sha256)
        return dest

    def _need_logged(self, what: str) -> list[Entry]:
        if self._entries is None:
            raise ArtifactError(f"runwal: {what} needs a logged artifact; call "
                                "run.log_artifact() (or use_artifact()) first")
        return self._entries

    def _set_logged(self, entries: list[Entry], version: int, digest: str,
                    aliases: list[str], run_dir: Path | None, run_id: str | None) -> None:
        for entry in entries:
            entry._owner = self
        self._entries = sorted(entries, key=lambda e: e.path)
        self.version = f"v{version}"
        self.digest = digest
        self.aliases = list(aliases)
        self._run_dir = run_dir
        self.source_run = run_id

    def __repr__(self) -> str:
        where = f":{self.version}" if self.version else ""
        return f"<Artifact {self._name}{where} type={self.type}>"


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ArtifactError("runwal: Artifact(metadata=) must be a dict")
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ArtifactError(f"runwal: Artifact(metadata=): keys must be str, got {key!r}")
        check_key(key, "Artifact(metadata=)")  # valid text: a lone surrogate cannot be packed
        out[key] = convert(value, key, "Artifact(metadata=)")[0]
    return out


def _links(call: str, policy: str) -> bool:
    """Whether ``policy`` lets the files be hard-linked ("immutable": the user promises
    they will not change); ArtifactError naming ``call`` for a policy that is none."""
    if policy not in POLICIES:
        raise ArtifactError(f"runwal: {call}(policy={policy!r}): expected one of {POLICIES}")
    return policy == "immutable"
