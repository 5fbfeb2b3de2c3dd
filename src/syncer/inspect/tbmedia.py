"""``media`` records as TensorBoard summary values, in pure Python (see tensorboard.py).

The subset of tensorflow/core/framework/summary.proto, tensor.proto and
tensor_shape.proto written here, in protowire.py's wire format (proto3: zero
values are not written, fields in field-number order, repeated doubles packed,
so the bytes equal what protobuf serializes)::

    Value     { string tag = 1; Image image = 4; HistogramProto histo = 5;
                Audio audio = 6; TensorProto tensor = 8; SummaryMetadata metadata = 9; }
    Image     { int32 height = 1; int32 width = 2; int32 colorspace = 3;
                bytes encoded_image_string = 4; }
    HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4;
                double sum_squares = 5; repeated double bucket_limit = 6 [packed];
                repeated double bucket = 7 [packed]; }
    Audio     { float sample_rate = 1; int64 num_channels = 2; int64 length_frames = 3;
                bytes encoded_audio_string = 4; string content_type = 5; }
    TensorProto { DataType dtype = 1 (DT_STRING = 7); TensorShapeProto tensor_shape = 2;
                repeated bytes string_val = 8; }
    TensorShapeProto { repeated Dim dim = 2; }  Dim { int64 size = 1; }
    SummaryMetadata { PluginData plugin_data = 1; }  PluginData { string plugin_name = 1; }

What each kind becomes:

=========  ==================================================================
image      an image summary of the PNG bytes (tag ``<key>``; a gallery's items
           ``<key>/0``, ``<key>/1``, ...): TensorBoard's Images tab
video      a GIF as an image summary (TensorBoard animates it, as tensorboardX's
           ``add_video``); other formats are skipped with a note
audio      an audio summary of the WAV bytes (rate, channels, frames from the
           WAV header): the Audio tab; other audio formats are skipped
histogram  a histogram summary: bucket limits = the right bin edges, min/max
           the outer non-empty edges: the Histograms and Distributions tabs
html       a text summary of the HTML source (the Text tab renders it as
           Markdown, which keeps simple tags)
table      a text summary of a 2-D string tensor, header row first: the Text
           tab draws it as a table (image cells as their file name)
=========  ==================================================================

Files are read through `syncer.runfiles` (inside ``files/``, no links);
a missing one skips its item and is counted.
"""

from __future__ import annotations

import io
import json
import os
import struct
import wave
from typing import Any

from schema.records import Record
from syncer.histogram import histogram_stats
from syncer.inspect import protowire as pw
from syncer.inspect.spelling import key_text
from syncer.runfiles import RefusedPath, open_run_file

MAX_FILE = 64 << 20  # larger media files are skipped (an event file is read whole)
_PNG_COLORSPACE = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def _value(tag: str, field_no: int, message: bytes, metadata: bytes = b"") -> bytes:
    out = pw.len_field(1, tag.encode("utf-8")) + pw.len_field(field_no, message)
    return out + (pw.len_field(9, metadata) if metadata else b"")


def image_value(tag: str, data: bytes, width: int, height: int, colorspace: int) -> bytes:
    msg = (pw.int_field(1, height) + pw.int_field(2, width) + pw.int_field(3, colorspace)
           + pw.len_field(4, data))
    return _value(tag, 4, msg)


def histogram_value(tag: str, bins: list[float], counts: list[float]) -> bytes | None:
    stats = histogram_stats(bins, counts)
    if stats is None:
        return None
    edges, weights = [float(b) for b in bins], [float(c) for c in counts]
    mids = [(edges[j] + edges[j + 1]) / 2 for j in range(len(weights))]
    num = sum(weights)
    total = sum(w * m for w, m in zip(weights, mids, strict=True))
    squares = sum(w * m * m for w, m in zip(weights, mids, strict=True))
    msg = (pw.double_field(1, stats["min"]) + pw.double_field(2, stats["max"])
           + pw.double_field(3, num) + pw.double_field(4, total) + pw.double_field(5, squares)
           + pw.packed_doubles(6, edges[1:]) + pw.packed_doubles(7, weights))
    return _value(tag, 5, msg)


def audio_value(tag: str, data: bytes, sample_rate: float, channels: int, frames: int) -> bytes:
    rate = pw.key(1, pw.FIXED32) + pw.float32(sample_rate) if sample_rate else b""
    msg = (rate + pw.int_field(2, channels) + pw.int_field(3, frames) + pw.len_field(4, data)
           + pw.len_field(5, b"audio/wav"))
    return _value(tag, 6, msg)


def text_value(tag: str, cells: list[str], shape: list[int]) -> bytes:
    dims = b"".join(pw.len_field(2, pw.int_field(1, n)) for n in shape)
    tensor = (pw.int_field(1, 7) + pw.len_field(2, dims)
              + b"".join(pw.len_field(8, c.encode("utf-8")) for c in cells))
    return _value(tag, 8, tensor, metadata=pw.len_field(1, pw.len_field(1, b"text")))


# -- records -> values --------------------------------------------------------------


def media_values(run_dir: str | os.PathLike[str], rec: Record, notes: list[str]
                 ) -> tuple[str, list[bytes], int]:
    """(kind, encoded values, items skipped) of one media record."""
    body = rec.body if isinstance(rec.body, dict) else {}
    key, kind, items = key_text(body.get("key")), str(body.get("kind")), body.get("items")
    if not isinstance(items, list):
        return kind, [], 0
    out: list[bytes] = []
    skipped = 0
    for i, item in enumerate(items):
        tag = key if len(items) == 1 else f"{key}/{i}"
        try:
            value = _one(run_dir, kind, tag, item)
        except RefusedPath as exc:
            value = None
            if len(notes) < 20:
                notes.append(f"seq {rec.seq}: {kind} {key}: {exc}")
        if value is None:
            skipped += 1
        else:
            out.append(value)
    return kind, out, skipped


def _read(run_dir: str | os.PathLike[str], path: Any) -> bytes:
    if not isinstance(path, str):
        raise RefusedPath("an item without a file")
    with os.fdopen(open_run_file(run_dir, path), "rb") as fh:
        data = fh.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise RefusedPath(f"files/{path} is over {MAX_FILE >> 20} MiB")
    return data


def _one(run_dir: str | os.PathLike[str], kind: str, tag: str, item: Any) -> bytes | None:
    if not isinstance(item, dict):
        return None
    if kind == "histogram":
        return histogram_value(tag, item.get("bins"), item.get("counts"))  # type: ignore[arg-type]
    if kind == "image":
        data = _read(run_dir, item.get("file"))
        width, height, space = png_size(data)
        if not width:  # a logged JPEG/GIF/WebP file: the record's size, RGB
            width, height, space = _int_of(item.get("width")), _int_of(item.get("height")), 3
        return image_value(tag, data, width, height, space)
    if kind == "video":
        if str(item.get("format")) != "gif":
            return None
        data = _read(run_dir, item.get("file"))
        width, height = struct.unpack_from("<HH", data, 6) if len(data) >= 10 else (0, 0)
        return image_value(tag, data, width, height, 3)
    if kind == "audio":
        if str(item.get("format", "wav")) != "wav":  # TensorBoard plays WAV only
            return None
        data = _read(run_dir, item.get("file"))
        rate, channels, frames = wav_shape(data, item.get("sample_rate"))
        return audio_value(tag, data, rate, channels, frames)
    if kind == "html":
        return text_value(tag, [_read(run_dir, item.get("file")).decode("utf-8", "replace")], [1])
    if kind == "table":
        return _table(run_dir, tag, item)
    return None


def _table(run_dir: str | os.PathLike[str], tag: str, item: dict[str, Any]) -> bytes | None:
    try:
        doc = json.loads(_read(run_dir, item.get("file")))
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        return None
    columns = doc.get("columns")
    columns = columns if isinstance(columns, list) else []
    rows = [r if isinstance(r, list) else [r] for r in doc["data"]]
    width = max([len(columns), *(len(r) for r in rows)]) or 1
    cells = []
    for row in [columns, *rows]:
        cells += [_cell(c) for c in row] + [""] * (width - len(row))
    return text_value(tag, cells, [len(rows) + 1, width])


def _cell(value: Any) -> str:
    if isinstance(value, dict) and value.get("_type") == "image":
        return f"[image {value.get('file')}]"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _int_of(value: Any) -> int:
    return value if type(value) is int and 0 <= value < 1 << 31 else 0


def png_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, TensorBoard colorspace) from a PNG's IHDR; zeros if not a PNG."""
    if len(data) < 26 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0, 0
    width, height = struct.unpack_from(">II", data, 16)
    return width, height, _PNG_COLORSPACE.get(data[25], 3)


def wav_shape(data: bytes, sample_rate: Any) -> tuple[float, int, int]:
    """(sample rate, channels, frames) from a WAV header; the record's rate otherwise."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            return float(w.getframerate()), w.getnchannels(), w.getnframes()
    except (wave.Error, EOFError, struct.error):
        rate = float(sample_rate) if isinstance(sample_rate, (int, float)) else 0.0
        return rate, 1, 0
