"""How a ``media`` record becomes MLflow artifacts, tags and metrics (pure: no I/O).

Each kind gets the layout MLflow's own client writes for it, so the MLflow UI
shows it where it shows MLflow's (checked against MLflow 3.17's client in
tests/syncer/sinks/test_media_sync.py):

=========  =================================================================
kind       MLflow
=========  =================================================================
image      ``mlflow.log_image(image, key=, step=)``'s layout: per item
           ``images/<key>+step+<step>+timestamp+<ms>+<uuid>.png`` and a
           thumbnail ``...+<uuid>+compressed.webp`` (longest side 256 px, as
           MLflow's ``compress_image_size``; the PNG bytes themselves when
           Pillow is not installed: browsers sniff image bytes), run tag
           ``mlflow.loggedImages`` = ``True``. ``/`` in the key is ``~`` as
           MLflow writes it; characters MLflow refuses in a key become ``_``.
           The uuid is derived from key, step, item index and sha256, so a
           replay writes the same names. A gallery is several items at the
           same step (several ``log_image`` calls). Captions are not shown
           by MLflow (they stay in the run dir). A logged JPEG/GIF/WebP file
           keeps its bytes under the ``.png`` name the panel requires
           (browsers sniff the format)
table      ``MlflowClient.log_table``'s layout: ``tables/<key>/step_<N>.json``
           in pandas' ``orient="split"`` JSON (``{"columns", "data"}``), listed
           in run tag ``mlflow.loggedArtifacts`` (``[{"path", "type": "table"}]``,
           the most recent tables that fit in a tag). Image cells are uploaded
           once per sha256 to ``table_images/<sha256>.png`` (+ ``.webp``) and
           become MLflow's cell ``{"type": "image", "filepath",
           "compressed_filepath"}``
audio,     the file, content-addressed: ``media/<key>/<sha256>.<ext>``
video,     (uploaded once per run), and ``media/<key>/step_<N>.json`` listing
html       that step's items (file, caption, sample rate, fps, ...)
histogram  metrics ``<key>/min``, ``/max`` (edges of the outer non-empty bins),
           ``/mean``, ``/std`` (bin midpoints weighted by counts) at the
           record's step; the full histogram as ``histograms/<key>/step_<N>.json``
           (``{"key", "step", "bins", "counts"}``)
=========  =================================================================

A file is read only when the upload runs (`syncer.sinks.mlflow.uploads`),
through `syncer.runfiles`; a missing one is a `Rejection` for its
item, the rest of the record is delivered. A record with an ``error`` (the
SDK could not store all its files) is a `Rejection` saying so, and the items
it lists are delivered.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from schema.records import Record
from syncer.histogram import histogram_stats
from syncer.sinks.base import Refused, Rejection

IMAGES_TAG = "mlflow.loggedImages"  # mlflow.utils.mlflow_tags.MLFLOW_LOGGED_IMAGES
ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # MLFLOW_LOGGED_ARTIFACTS: the tables
MAX_TAG_VALUE = 8000
_IMAGE_KEY_OK = re.compile(r"[^a-zA-Z0-9_\-./ ]")  # what log_image accepts in a key
_PATH_OK = re.compile(r"[^\w\-. /]")
_EXT = {"audio": "wav", "video": "gif", "html": "html"}


@dataclass(frozen=True)
class Upload:
    """One artifact to PUT. ``source`` is relative to ``files/``; ``data`` is made here.

    ``dedupe``: the destination is content-addressed, so it is sent once per run
    (skipped when the server lists it with ``size`` bytes; any size when None).
    ``transform``: ``"thumbnail"`` (the WebP of an image ``source``), ``"table"``
    (``source`` is a runwal table whose image cells are uploaded and rewritten).
    """

    seq: int
    dest: str
    source: str | None = None
    data: bytes | None = None
    size: int | None = None
    dedupe: bool = False
    transform: str = ""


@dataclass
class Mapped:
    """What one record becomes; `syncer.sinks.mlflow.mapping` merges it into its Plan."""

    metrics: list[tuple[str, float, int]] = field(default_factory=list)  # key, value, step
    tags: dict[str, str] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class MediaState:
    """Persists between passes: the tables the ``mlflow.loggedArtifacts`` tag lists."""

    tables: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"tables": list(self.tables)}

    @classmethod
    def from_json(cls, data: Any) -> MediaState:
        data = data if isinstance(data, dict) else {}
        return cls(tables=[str(t) for t in data.get("tables") or () if isinstance(t, str)])


def safe_part(name: str) -> str:
    """A user's key as artifact path components MLflow stores (no ``..``, no root)."""
    parts = [_PATH_OK.sub("_", p) for p in str(name).split("/")]
    parts = ["_" if p in ("", ".", "..") else p for p in parts]
    return "/".join(parts) or "_"


def table_json(columns: list[Any], rows: list[Any]) -> bytes:
    """A table as ``DataFrame.to_json(orient="split", index=False)`` writes it."""
    return json.dumps({"columns": columns, "data": rows}, separators=(",", ":"),
                      default=str).encode()


def image_names(key: str, step: int, ts_ms: int, index: int, sha: str) -> tuple[str, str]:
    """The full-size and thumbnail artifact paths ``log_image(key=, step=)`` would use."""
    seed = hashlib.sha256(f"{key}\0{step}\0{index}\0{sha}".encode()).digest()
    uid = uuid.UUID(bytes=seed[:16])
    clean = _IMAGE_KEY_OK.sub("_", key).replace("/", "~") or "_"
    base = f"images/{clean}+step+{step}+timestamp+{ts_ms}+{uid}"
    return f"{base}.png", f"{base}+compressed.webp"


def map_media(rec: Record, state: MediaState, ts_ms: int) -> Mapped:
    out = Mapped()
    body = rec.body if isinstance(rec.body, dict) else {}
    key, step, kind = body.get("key"), body.get("step"), body.get("kind")
    items = body.get("items")
    if not isinstance(key, str) or not key or not isinstance(items, list):
        out.rejected.append(Rejection(rec.seq, Refused.FILE, str(key or ""),
                                      "media record without a key or an items list"))
        return out
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 1 << 63:
        out.rejected.append(Rejection(rec.seq, Refused.STEP, key, f"media step {step!r:.40} "
                                      "is not an int64 >= 0"))
        return out
    if isinstance(body.get("error"), str):  # the writer stored only the items listed
        out.rejected.append(Rejection(rec.seq, Refused.FILE, key, "the SDK could not store "
                                      f"every file of this value: {body['error'][:200]}"))
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            out.rejected.append(Rejection(rec.seq, Refused.FILE, key, "media item is no map"))
        elif kind == "histogram":
            _histogram(out, rec.seq, key, step, i, item)
        elif not isinstance(item.get("file"), str):
            out.rejected.append(Rejection(rec.seq, Refused.FILE, key, "media item without a file"))
        elif kind == "image":
            _image(out, rec.seq, key, step, ts_ms, i, item)
        elif kind == "table":
            _table(out, rec.seq, key, step, i, state)
            out.uploads.append(Upload(rec.seq, _table_path(key, step, i), source=item["file"],
                                      transform="table"))
        else:
            _file(out, rec.seq, key, str(kind), item)
    if kind in ("audio", "video", "html"):
        listed = [{**_meta(it), "file": _media_path(key, str(kind), it)}
                  for it in items if isinstance(it, dict) and isinstance(it.get("file"), str)]
        doc = {"key": key, "step": step, "kind": kind, "items": listed}
        out.uploads.append(Upload(rec.seq, f"media/{safe_part(key)}/step_{step}.json",
                                  data=json.dumps(doc, indent=1, default=str).encode()))
    return out


def _image(out: Mapped, seq: int, key: str, step: int, ts_ms: int, i: int,
           item: dict[str, Any]) -> None:
    full, thumb = image_names(key, step, ts_ms, i, str(item.get("sha256", "")))
    out.uploads.append(Upload(seq, full, source=item["file"]))
    out.uploads.append(Upload(seq, thumb, source=item["file"], transform="thumbnail"))
    out.tags[IMAGES_TAG] = "True"


def _table_path(key: str, step: int, i: int) -> str:
    return f"tables/{safe_part(key)}/step_{step}{f'_{i}' if i else ''}.json"


def _table(out: Mapped, seq: int, key: str, step: int, i: int, state: MediaState) -> None:
    path = _table_path(key, step, i)
    if path not in state.tables:
        state.tables.append(path)
    value = _tables_tag(state)
    out.tags[ARTIFACTS_TAG] = value


def _tables_tag(state: MediaState) -> str:
    """MLflow's tag value (json.dumps as MLflow writes it), oldest tables dropped to fit."""
    while True:
        value = json.dumps([{"path": p, "type": "table"} for p in state.tables])
        if len(value) <= MAX_TAG_VALUE or len(state.tables) <= 1:
            return value
        del state.tables[0]


def _media_path(key: str, kind: str, item: dict[str, Any]) -> str:
    ext = str(item.get("format") or _EXT.get(kind, "bin"))
    name = str(item.get("sha256") or posixpath.basename(str(item["file"])).rsplit(".", 1)[0])
    return f"media/{safe_part(key)}/{safe_part(name).replace('/', '_')}.{safe_part(ext)}"


def _file(out: Mapped, seq: int, key: str, kind: str, item: dict[str, Any]) -> None:
    size = item.get("size")
    out.uploads.append(Upload(seq, _media_path(key, kind, item), source=item["file"],
                              size=size if type(size) is int else None, dedupe=True))


def _meta(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "file"}


def _histogram(out: Mapped, seq: int, key: str, step: int, i: int, item: dict[str, Any]) -> None:
    bins, counts = item.get("bins"), item.get("counts")
    stats = histogram_stats(bins, counts)
    if stats is None:
        out.rejected.append(Rejection(seq, Refused.METRIC, key, "histogram without n+1 finite "
                                      "bins and n counts (or with no values)"))
        return
    if i == 0:
        out.metrics += [(f"{key}/{name}", value, step) for name, value in stats.items()]
    doc = {"key": key, "step": step, "bins": bins, "counts": counts}
    name = f"histograms/{safe_part(key)}/step_{step}{f'_{i}' if i else ''}.json"
    out.uploads.append(Upload(seq, name, data=json.dumps(doc, default=str).encode()))
