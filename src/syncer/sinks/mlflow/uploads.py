"""Sending the media and artifact files a batch maps to (`media.Upload`s).

Files are read only through `syncer.runfiles` (inside ``files/``, no
links); a file that cannot be read is a `Rejection` naming it, and the rest
of the batch goes on. Every request is harmless to repeat: each upload is a
PUT to a name that depends only on the record (same bytes, same path).

Content-addressed destinations (``dedupe``) are sent once per run: the first
time a directory is needed, the server's listing of it is fetched (one
``artifacts/list``), and a file it holds with the expected size is not sent
again; nor is one this sink has sent or is sending (several records, or two
threads, naming the same sha256). Nothing of it is kept in the checkpoint, so
a replay without one dedupes the same way. Uploads run a few at a time
(``parallel``), those of one source file in order in one thread.

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
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from syncer.errors import ArtifactsUnsupported, AuthFailed, RunGone, ServerRejected
from syncer.runfiles import RefusedPath, open_run_file
from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.media import Upload, table_json
from syncer.sinks.mlflow.rest import API, MlflowRest

THUMBNAIL_SIZE = 256  # mlflow.tracking.multimedia.COMPRESSED_IMAGE_SIZE
MAX_READ = 256 << 20  # a table or image read into memory (the rest are streamed)
_FATAL = (AuthFailed, RunGone)


class Uploader:
    """The uploads of one server run; one per sink. ``send`` runs up to ``parallel``
    uploads at a time (threads of its own, joined before it returns)."""

    def __init__(self, rest: MlflowRest, run_id: str, artifact_root: str | None,
                 run_dir: str | os.PathLike[str], *, parallel: int = 4):
        self.rest = rest
        self.run_id = run_id
        self.artifact_root = artifact_root
        self.run_dir = run_dir
        self.parallel = max(1, parallel)
        self._listed: dict[str, dict[str, int | None]] = {}  # dir -> {path: size}
        self._claimed: set[str] = set()  # content-addressed paths being sent or sent
        self._lock = threading.Lock()
        self.uploaded = 0  # files sent (for tests and progress)

    def send(self, uploads: list[Upload]) -> list[Rejection]:
        """Send ``uploads``; the rejections in their order. Uploads of one source file
        go in order, in one thread (a thumbnail after its image, none after a refusal)."""
        groups: dict[str, list[tuple[int, Upload]]] = {}
        for i, up in enumerate(uploads):
            groups.setdefault(up.source if up.source is not None else "\0" + up.dest,
                              []).append((i, up))
        tasks = list(groups.values())
        results: Iterable[list[tuple[int, Rejection]]]
        if len(tasks) > 1 and self.parallel > 1:
            with ThreadPoolExecutor(min(self.parallel, len(tasks)),
                                    thread_name_prefix="runwal-upload") as pool:
                results = list(pool.map(self._group, tasks))
        else:
            results = [self._group(t) for t in tasks]
        return [r for _, r in sorted((x for res in results for x in res), key=lambda x: x[0])]

    def _group(self, group: list[tuple[int, Upload]]) -> list[tuple[int, Rejection]]:
        out: list[tuple[int, Rejection]] = []
        for i, up in group:
            got: list[Rejection] = []
            try:
                if not up.dedupe:
                    self._send(up, got)
                elif self._claim(up.dest, up.size):
                    self._send_claimed(up, got)
            except RefusedPath as exc:
                got.append(Rejection(up.seq, Refused.FILE, up.source or up.dest, str(exc)))
                out += [(i, r) for r in got]
                break  # its source cannot be read: nothing more made of it
            except _FATAL:
                raise
            except (ArtifactsUnsupported, ServerRejected) as exc:
                got.append(Rejection(up.seq, Refused.FILE, up.dest, exc.message[-300:]))
            out += [(i, r) for r in got]
        return out

    # -- one upload ------------------------------------------------------------

    def _send_claimed(self, up: Upload, out: list[Rejection]) -> None:
        try:
            self._send(up, out)
        except BaseException:
            with self._lock:
                self._claimed.discard(up.dest)
            raise

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

    def _put(self, dest: str, *, data: bytes | None = None, opener: Any = None) -> None:
        if self.artifact_root is None:
            raise ArtifactsUnsupported("the server run has no mlflow-artifacts: artifact URI")
        self.rest.put_artifact(self.artifact_root, dest, data=data, opener=opener)
        with self._lock:
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
            up = Upload(seq, dest, source=source, transform=transform, dedupe=True)
            try:
                if self._claim(dest, None):
                    self._send_claimed(up, out)
            except RefusedPath as exc:
                out.append(Rejection(seq, Refused.FILE, source, str(exc)))
                break
        return {"type": "image", "filepath": full, "compressed_filepath": small}

    # -- what the server has -----------------------------------------------------

    def _claim(self, dest: str, size: int | None) -> bool:
        """True when ``dest`` is to be sent by the caller: not on the server (with
        ``size`` bytes, any size when None) and not claimed by another upload."""
        with self._lock:  # one listing per directory, asked once whoever asks first
            if dest in self._claimed:
                return False
            listing = self._listing(posixpath.dirname(dest))
            have = listing.get(dest, -1)
            if have != -1 and (size is None or have is None or have == size):
                return False
            self._claimed.add(dest)
            return True

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
