"""wandb's rich values (a map with a ``_type``) as runwal MEDIA records.

As wandb 0.31 writes them in a history row, the file under the run's
``files/``, named by ``path``:

==================== ===================================================
wandb ``_type``      MEDIA kind and item (file, size, sha256 plus)
==================== ===================================================
image-file           image: width, height, format, caption
images/separated     image gallery (``filenames``, ``captions``)
audio-file, audio    audio (one, or a gallery of ``audio``): sample_rate
                     and duration read from a WAV, format, caption
video-file, videos   video (one, or a gallery of ``videos``): fps null,
                     format (the file's extension), width/height when
                     given, caption
html-file, html      html (one, or a gallery of ``html``): format "html"
table-file           table: format "json", rows, columns from the file,
                     which is the ``{"columns", "data"}`` runwal writes
                     (cells as wandb wrote them; an image cell is
                     ``"Image"`` in 0.31's offline files)
histogram            histogram: bins and counts, no file
==================== ===================================================

Others (a wandb type runwal has no kind for, a file that is missing) are
skipped and counted. A rich value in the summary is the reference runwal's
summary keeps (FORMAT.md): to the MEDIA record of that key whose file is the
same (its last logged value), else to one written for it (`RichValues.resolve`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from logwriter.importers.rundir import RunWriter
from logwriter.media import encode
from logwriter.media.logged import reference
from schema.records import RecordType

_FILE_KINDS = {"image-file": "image", "audio-file": "audio", "video-file": "video",
               "html-file": "html", "table-file": "table"}
_GALLERIES = {"audio": ("audio", "audio"), "videos": ("video", "videos"),
              "html": ("html", "html")}  # wandb _type -> (media kind, the list's field)


def _histogram(value: dict[str, Any]) -> dict[str, Any] | None:
    """wandb's histogram JSON (``values`` n counts, ``bins`` n+1 edges or ``packedBins``
    {min, size, count}) as a media histogram item."""
    counts = value.get("values")
    bins = value.get("bins")
    packed = value.get("packedBins")
    if bins is None and isinstance(packed, dict):
        lo, size, n = packed.get("min", 0.0), packed.get("size", 0.0), packed.get("count", 0)
        bins = [lo + i * size for i in range(int(n) + 1)]
    if not isinstance(counts, list) or not isinstance(bins, list) or (
            len(bins) != len(counts) + 1):
        return None
    return {"bins": [float(b) for b in bins], "counts": [round(c) for c in counts]}


def _metadata(media: str, ext: str, data: bytes, ref: dict[str, Any]) -> dict[str, Any] | None:
    """A media item's metadata (docs/FORMAT.md) from a wandb file reference and the
    file's bytes; None for a table file that is no ``{"columns", "data"}`` JSON."""
    caption = ref.get("caption") if isinstance(ref.get("caption"), str) else None
    if media == "image":
        return {"width": ref.get("width"), "height": ref.get("height"),
                "format": ref.get("format") or ext, "caption": caption}
    if media == "audio":
        info = encode.wav_info(data) if ext == "wav" else None
        rate, duration = info if info is not None else (None, None)
        return {"sample_rate": rate, "duration": duration, "format": ext, "caption": caption}
    if media == "video":
        meta: dict[str, Any] = {"fps": None, "format": ext, "caption": caption}
        meta.update((k, ref[k]) for k in ("width", "height") if isinstance(ref.get(k), int))
        return meta
    if media == "html":
        return {"format": "html"}
    try:
        doc = json.loads(data)
        columns, rows = doc["columns"], doc["data"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(columns, list) or not isinstance(rows, list):
        return None
    return {"format": "json", "rows": len(rows), "columns": [str(c) for c in columns]}


class RichValues:
    """The rich values of one import: the MEDIA records written for them, the last
    one of each key, and the summary's rich values waiting for their history row.

    ``index`` is the place in the log of the wandb record a value came from: only
    what lies past ``skip`` (the cursor of the last import) is written."""

    def __init__(self, files: Path, out: RunWriter, skip: int) -> None:
        self.files, self.out, self.skip = files, out, skip
        # key -> (step, wandb's sha256, media kind, items) of its last media record
        self.logged: dict[str, tuple[int, Any, str, list[dict[str, Any]]]] = {}
        self.pending: dict[str, tuple[dict[str, Any], int]] = {}  # rich summary values

    def log(self, key: str, step: int, value: dict[str, Any], ts: float, index: int) -> None:
        """A rich value (the table in the module's docs) as a media record; others counted."""
        writing = index > self.skip
        kind = str(value.get("_type"))
        media, items = self._items(kind, value, writing)
        if not items:
            if writing:
                self.out.counts[f"skipped_{kind}"] += 1
            return
        if writing:
            self.out.put(int(RecordType.MEDIA), ts, {"key": key, "step": step, "kind": media,
                                                     "items": items})
        self.logged[key] = (step, value.get("sha256"), media, items)
        if writing:
            self.out.counts[f"{media}s"] += 1

    def _items(self, kind: str, value: dict[str, Any],
               writing: bool) -> tuple[str, list[dict[str, Any]]]:
        """(runwal's media kind, the items) of one wandb value; no items when unknown."""
        if kind == "histogram":
            item = _histogram(value)
            return "histogram", [item] if item is not None else []
        if kind == "images/separated":
            paths = list(value.get("filenames") or [])
            captions = list(value.get("captions") or [None] * len(paths))
            refs = [{"path": p, "caption": c, "width": value.get("width"),
                     "height": value.get("height"), "format": value.get("format")}
                    for p, c in zip(paths, captions, strict=False)]
            return "image", self._media_files("image", refs, writing)
        if kind in _FILE_KINDS:
            return _FILE_KINDS[kind], self._media_files(_FILE_KINDS[kind], [value], writing)
        if kind in _GALLERIES:
            media, field = _GALLERIES[kind]
            refs = [r for r in value.get(field) or [] if isinstance(r, dict)]
            return media, self._media_files(media, refs, writing)
        return "", []

    def _media_files(self, media: str, refs: list[dict[str, Any]],
                     writing: bool) -> list[dict[str, Any]]:
        """Each wandb file reference's file stored, with the item's metadata."""
        out = []
        for ref in refs:
            rel = ref.get("path")
            if not isinstance(rel, str) or ".." in Path(rel).parts:
                continue
            src = self.files / rel
            if not src.is_file():
                continue
            data = src.read_bytes()
            ext = (src.suffix.lstrip(".").lower() or "bin")[:10]
            meta = _metadata(media, ext, data, ref)
            if meta is None:
                continue
            fmt = meta.get("format") or ext
            if writing:
                stored = self.out.media_file(media, fmt, data)
            else:  # a record before the cursor: its file is there already, same name
                digest = hashlib.sha256(data).hexdigest()
                stored = {"file": f"media/{media}/{digest}.{fmt}", "size": len(data),
                          "sha256": digest}
            out.append({**stored, **meta})
        return out

    def hold(self, key: str, value: dict[str, Any], index: int) -> None:
        """A rich summary value, from the record at ``index``: its history row comes next."""
        self.pending[key] = (value, index)

    def resolve(self, summary: dict[str, Any], step: int, ts: float) -> None:
        """Rich summary values as runwal's references (FORMAT.md) in ``summary``: to the
        media record of the key when it holds the same file (wandb's summary of a logged
        key: wandb 0.31 writes that summary just before the history row), else to a media
        record written for it at ``step``; a kind runwal has not is left out.

        Run after each history row and at the end. A record of its own is written
        as of the summary record's place in the log, so a re-import that appends
        writes it once."""
        pending, self.pending = self.pending, {}
        for key, (value, index) in pending.items():
            logged = self.logged.get(key)
            if logged is None or logged[1] != value.get("sha256"):
                self.log(key, step, value, ts, index)
                logged = self.logged.get(key)
            if logged is None:
                summary.pop(key, None)
                continue
            logged_step, _, media, items = logged
            summary[key] = reference(media, logged_step, {"items": items})
