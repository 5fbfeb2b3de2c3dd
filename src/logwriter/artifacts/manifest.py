"""An artifact's entries and its digest: the ``entries`` and ``digest`` of the record.

An entry is a file copied into the run's store (``files/artifacts/<sha256>``)
or a reference (a URI, nothing copied)::

    {"path": "model/weights.bin", "size": 1234, "sha256": "<hex>", "file": "artifacts/<hex>"}
    {"path": "dataset", "ref": "s3://bucket/train/"}

The digest (docs/FORMAT.md, "Media and artifacts") is the sha256 of one line
per entry, ``path:sha256`` or ``path:uri``, sorted by code point, each ended
by ``\\n``, hashed as UTF-8. It depends on the content and names only, never
on where the bytes came from, so the same files logged by two runs are the
same version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from logwriter.artifacts.errors import ArtifactError
from logwriter.artifacts.names import STORE_FILE_RE, check_entry_path


class Entry:
    """One entry of a logged artifact; ``download()`` materialises it (files only)."""

    __slots__ = ("_owner", "path", "ref", "sha256", "size", "store_file")

    def __init__(self, path: str, *, size: int | None = None, sha256: str | None = None,
                 store_file: str | None = None, ref: str | None = None,
                 owner: Any = None) -> None:
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.store_file = store_file  # "artifacts/<sha256>", relative to files/
        self.ref = ref
        self._owner = owner  # the logged Artifact, whose run holds the bytes

    @property
    def digest(self) -> str | None:  # wandb's name for an entry's hash
        return self.sha256

    def body(self) -> dict[str, Any]:
        if self.ref is not None:
            return {"path": self.path, "ref": self.ref}
        return {"path": self.path, "size": self.size, "sha256": self.sha256,
                "file": self.store_file}

    def download(self, root: str | None = None) -> str:
        """Copy this file out of the producing run into ``root``; returns its path."""
        if self._owner is None:
            raise ArtifactError(f"runwal: entry {self.path!r} belongs to an artifact that is "
                                "not logged yet")
        return str(self._owner._download_entry(self, root))

    def __repr__(self) -> str:
        what = f"ref={self.ref!r}" if self.ref is not None else f"size={self.size}"
        return f"<Entry {self.path!r} {what}>"


def digest_of(entries: list[Entry]) -> str:
    lines = sorted(f"{e.path}:{e.ref if e.ref is not None else e.sha256}\n" for e in entries)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def entries_from_record(body: dict[str, Any], where: Path) -> list[Entry]:
    """The entries of an ``artifact`` record read back, each checked as download() needs."""
    raw = body.get("entries")
    if not isinstance(raw, list):
        raise ArtifactError("runwal: artifact record without an entries list",
                            path=str(where), hint="the record is damaged or forged")
    out: list[Entry] = []
    for item in raw:
        try:
            if not isinstance(item, dict):
                raise ArtifactError("entry is not a map")
            path = check_entry_path(item.get("path"))
            if "ref" in item:
                if not isinstance(item["ref"], str):
                    raise ArtifactError("ref is not a str")
                out.append(Entry(path, ref=item["ref"]))
                continue
            sha, size, file = item.get("sha256"), item.get("size"), item.get("file")
            if (not isinstance(file, str) or not STORE_FILE_RE.fullmatch(file)
                    or file != f"artifacts/{sha}" or type(size) is not int or size < 0):
                raise ArtifactError("file entry without a valid sha256, size and file")
            out.append(Entry(path, size=size, sha256=sha, store_file=file))
        except ArtifactError as exc:
            raise ArtifactError(f"runwal: damaged artifact record {body.get('name')!r:.80}: "
                                f"{str(exc).split(' (hint')[0]}", path=str(where),
                                hint="the producing run's log is damaged or forged") from exc
    return out
