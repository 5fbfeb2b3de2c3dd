"""Sending the media and artifact files a batch maps to (`media.Upload`s).

Files are read only through `syncer.engine.runfiles` (inside ``files/``, no
links); a file that cannot be read is a `Rejection` naming it, and the rest
of the batch goes on. Every request is harmless to repeat: each upload is a
PUT to a name that depends only on the record (same bytes, same path).

Content-addressed destinations (``dedupe``) are sent once per run: the first
time a directory is needed, the server's listing of it is fetched (one
``artifacts/list``), and a file it holds with the expected size is not sent
again; what this sink uploads is added to that listing. Nothing of it is
kept in the checkpoint, so a replay without one dedupes the same way.

Two uploads are made here rather than read: an image's thumbnail (``+compressed.webp``:
longest side 256 px like MLflow's ``compress_image_size``, with Pillow; without
Pillow the PNG bytes, which browsers show whatever the name), and a table, whose
image cells (``{"_type": "image", "file": ...}``) are uploaded to
``table_images/<sha256>.png`` / ``.webp`` and rewritten as MLflow's cell.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
from typing import IO, Any

from syncer.engine.runfiles import RefusedPath, open_run_file
from syncer.errors import ArtifactsUnsupported, AuthFailed, RunGone, ServerRejected
from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.media import Upload, table_json
from syncer.sinks.mlflow.rest import API, MlflowRest

THUMBNAIL_SIZE = 256  # mlflow.tracking.multimedia.COMPRESSED_IMAGE_SIZE
MAX_READ = 256 << 20  # a table or image read into memory (the rest are streamed)
_FATAL = (AuthFailed, RunGone)


class Uploader:
    """The uploads of one server run; one per sink (not shared between threads)."""

    def __init__(self, rest: MlflowRest, run_id: str, artifact_root: str | None,
                 run_dir: str | os.PathLike[str]):
        self.rest = rest
        self.run_id = run_id
        self.artifact_root = artifact_root
        self.run_dir = run_dir
        self._listed: dict[str, dict[str, int | None]] = {}  # dir -> {path: size}
        self.uploaded = 0  # files sent (for tests and progress)

    def send(self, uploads: list[Upload]) -> list[Rejection]:
        out: list[Rejection] = []
        failed: set[str] = set()  # sources that could not be read in this batch
        for up in uploads:
            if up.source is not None and up.source in failed:
                continue
            try:
                if up.dedupe and self._has(up.dest, up.size):
                    continue
                self._send(up, out)
            except RefusedPath as exc:
                if up.source is not None:
                    failed.add(up.source)
                out.append(Rejection(up.seq, Refused.FILE, up.source or up.dest, str(exc)))
            except _FATAL:
                raise
            except (ArtifactsUnsupported, ServerRejected) as exc:
                out.append(Rejection(up.seq, Refused.FILE, up.dest, exc.message[-300:]))
        return out

    # -- one upload ------------------------------------------------------------

    def _send(self, up: Upload, out: list[Rejection]) -> None:
        if up.transform == "thumbnail" and up.source is not None:
            self._put(up.dest, data=thumbnail(self._read(up.source)))
        elif up.transform == "table" and up.source is not None:
            self._put(up.dest, data=self._table(up, out))
        elif up.source is not None:
            source = up.source
            self._open(source).close()  # RefusedPath now, not inside the retry loop
            self._put(up.dest, opener=lambda: self._open(source))
        else:
            self._put(up.dest, data=up.data or b"")
        listing = self._listed.get(posixpath.dirname(up.dest))
        if listing is not None:  # only directories asked about are kept
            listing[up.dest] = up.size

    def _put(self, dest: str, *, data: bytes | None = None, opener: Any = None) -> None:
        if self.artifact_root is None:
            raise ArtifactsUnsupported("the server run has no mlflow-artifacts: artifact URI")
        self.rest.put_artifact(self.artifact_root, dest, data=data, opener=opener)
        self.uploaded += 1

    def _open(self, source: str) -> IO[bytes]:
        return os.fdopen(open_run_file(self.run_dir, source), "rb")

    def _read(self, source: str) -> bytes:
        with self._open(source) as fh:
            data = fh.read(MAX_READ + 1)
        if len(data) > MAX_READ:
            raise RefusedPath(f"files/{source} is over {MAX_READ >> 20} MiB")
        return data

    def _table(self, up: Upload, out: list[Rejection]) -> bytes:
        """The table in MLflow's layout, its image cells uploaded first."""
        assert up.source is not None
        try:
            doc = json.loads(self._read(up.source))
        except (ValueError, RecursionError) as exc:
            raise RefusedPath(f"files/{up.source} is no JSON table ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise RefusedPath(f"files/{up.source} is no table (no data list)")
        columns = doc.get("columns")
        columns = columns if isinstance(columns, list) else []
        rows = [[self._cell(up.seq, c, out) for c in row] if isinstance(row, list) else row
                for row in doc["data"]]
        return table_json(columns, rows)

    def _cell(self, seq: int, cell: Any, out: list[Rejection]) -> Any:
        if not (isinstance(cell, dict) and cell.get("_type") == "image"
                and isinstance(cell.get("file"), str)):
            return cell
        source = cell["file"]
        stem = str(cell.get("sha256") or posixpath.basename(source).rsplit(".", 1)[0])
        stem = "".join(c for c in stem if c.isalnum() or c in "-_") or "image"
        full, small = f"table_images/{stem}.png", f"table_images/{stem}.webp"
        for dest, transform in ((full, ""), (small, "thumbnail")):
            if self._has(dest, None):
                continue
            try:
                self._send(Upload(seq, dest, source=source, transform=transform), out)
            except RefusedPath as exc:
                out.append(Rejection(seq, Refused.FILE, source, str(exc)))
                break
        return {"type": "image", "filepath": full, "compressed_filepath": small}

    # -- what the server has -----------------------------------------------------

    def _has(self, dest: str, size: int | None) -> bool:
        listing = self._listing(posixpath.dirname(dest))
        if dest not in listing:
            return False
        have = listing[dest]
        return size is None or have is None or have == size

    def _listing(self, directory: str) -> dict[str, int | None]:
        found = self._listed.get(directory)
        if found is not None:
            return found
        found = {}
        try:
            data = self.rest.request("GET", f"{API}/artifacts/list",
                                     params={"run_id": self.run_id, "path": directory})
        except _FATAL:
            raise
        except ServerRejected:  # no listing: every file is sent (still harmless)
            data = {}
        for f in data.get("files") or ():
            if isinstance(f, dict) and not f.get("is_dir") and isinstance(f.get("path"), str):
                try:
                    found[f["path"]] = int(f["file_size"])
                except (KeyError, TypeError, ValueError):
                    found[f["path"]] = None
        self._listed[directory] = found
        return found


def thumbnail(png: bytes) -> bytes:
    """The ``+compressed.webp`` of an image: what MLflow's ``compress_image_size`` makes
    (resized so the longest side is 256 px), as WebP; the bytes unchanged without Pillow
    or when Pillow cannot read them."""
    try:
        from PIL import Image
    except ImportError:
        return png
    try:
        with Image.open(io.BytesIO(png)) as img:
            width, height = img.size
            if width > height:
                size = (THUMBNAIL_SIZE, max(1, int(height * THUMBNAIL_SIZE / width)))
            else:
                size = (max(1, int(width * THUMBNAIL_SIZE / height)), THUMBNAIL_SIZE)
            small = img.resize(size)
            buf = io.BytesIO()
            small.save(buf, format="WEBP")
            return buf.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return png
