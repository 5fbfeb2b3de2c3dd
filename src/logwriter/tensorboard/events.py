"""What an event file says: (step, wall_time, tag, kind, value) from a byte offset on.

The records (tfrecord.py) are ``tensorboard.Event`` protobufs, decoded with the
published messages: those of the ``tensorboard`` package when it is installed
(torch.utils.tensorboard needs it anyway; they import in 25 ms), else
tensorboardX's copies (``tensorboardX.proto``, what runwal's ``tensorboard``
extra brings: a small install, but importing it imports torch when torch is
there). The two are the same schema.

Each summary value becomes one `Item`; ``kind`` and ``value``:

======== ============================================================ =========================
kind     written by                                                   value
======== ============================================================ =========================
scalar   ``simple_value`` (tensorboardX, torch), or a one-element     float
         numeric tensor (TF2 ``tf.summary.scalar``, ``new_style``)
text     plugin ``text``: a string tensor (add_text)                  str (cells joined by "\\n")
image    ``image`` (PNG bytes) or plugin ``images`` (TF2: [w, h, png]) dict: png, width, height
histogram ``histo`` (bucket limits and counts) or plugin              dict: bins (n+1), counts (n)
         ``histograms`` (TF2: a [k, 3] tensor of left, right, count)
hparams  plugin ``hparams`` session_start_info (add_hparams)          dict: name -> number/str/bool
======== ============================================================ =========================

Everything else (graphs, audio, pr curves, meshes, the hparams experiment and
session_end summaries, the file_version event) is counted in
`Reading.skipped`, by kind, never an error.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from typing import Any, NamedTuple

from logwriter.tensorboard.tfrecord import Damage, read_records

EVENT_FILE_MARK = "tfevents"  # TensorBoard's own test: the name contains it

# TensorProto dtypes (tensorflow/core/framework/types.proto) we can read.
_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_INT64, _DT_STRING, _DT_BOOL, _DT_HALF = 1, 2, 3, 9, 7, 10, 19
_PACKED = {_DT_FLOAT: "f", _DT_DOUBLE: "d", _DT_INT32: "i", _DT_INT64: "q", _DT_BOOL: "?",
           _DT_HALF: "e"}
_VALS = {_DT_FLOAT: "float_val", _DT_DOUBLE: "double_val", _DT_INT32: "int_val",
         _DT_INT64: "int64_val", _DT_BOOL: "bool_val", _DT_HALF: "half_val"}


class Item(NamedTuple):
    step: int
    wall_time: float
    tag: str
    kind: str  # scalar | text | image | histogram | hparams
    value: Any


class Reading(NamedTuple):
    """One read of one file: its items, where to go on, and what was left out."""

    items: list[Item]
    offset: int
    torn: bool
    damage: list[Damage]
    skipped: Counter[str]


class _Messages:
    """The protobuf classes, imported once, from whichever package is installed."""

    def __init__(self) -> None:
        try:  # tensorboard's first: 25 ms, where any of tensorboardX imports torch (~1 s)
            from tensorboard.compat.proto import event_pb2
            from tensorboard.plugins.hparams import plugin_data_pb2 as plugin_hparams_pb2
        except ImportError:
            try:
                from tensorboardX.proto import event_pb2, plugin_hparams_pb2
            except ImportError:
                raise ImportError(
                    "runwal: reading TensorBoard event files needs tensorboardX (or "
                    "tensorboard): pip install 'runwal[tensorboard]'") from None
        self.Event = event_pb2.Event
        self.HParamsPluginData = plugin_hparams_pb2.HParamsPluginData


_messages: _Messages | None = None


def messages() -> _Messages:
    global _messages
    if _messages is None:
        _messages = _Messages()
    return _messages


def is_event_file(name: str) -> bool:
    return EVENT_FILE_MARK in name and not name.endswith((".tmp", ".lock"))


def is_hparams_dir(name: str) -> bool:
    """Whether a run's child directory named ``name`` is ``add_hparams()``'s: tensorboardX
    and torch write the hparams into ``<run>/<time.time()>/``, a name that is a number;
    the importer and the live tail both fold such a child into its parent run."""
    try:
        float(name)
    except ValueError:
        return False
    return True


def read_events(path: str | os.PathLike[str], offset: int = 0) -> Reading:
    """Every item of ``path`` from byte ``offset`` to its end (or its torn tail).

    Call again with ``Reading.offset`` when the file grew. OSError when it
    cannot be read; a record that is no Event is counted as damage.
    """
    event_cls = messages().Event
    items: list[Item] = []
    damage: list[Damage] = []
    skipped: Counter[str] = Counter()
    torn = False
    name = os.fspath(path)
    while True:
        chunk = read_records(path, offset)
        damage += chunk.damage
        torn = chunk.torn
        for at, data in chunk.records:
            try:
                event = event_cls.FromString(data)
            except Exception:  # protobuf's DecodeError: bytes that validate, yet no Event
                damage.append(Damage(name, at, len(data) + 16))
                continue
            _decode(event, items, skipped)
        if chunk.offset == offset:
            break
        offset = chunk.offset
    return Reading(items, offset, torn, damage, skipped)


def _decode(event: Any, items: list[Item], skipped: Counter[str]) -> None:
    which = event.WhichOneof("what")
    if which != "summary":
        if which not in (None, "file_version"):
            skipped[which] += 1
        return
    step, wall = int(event.step), float(event.wall_time)
    for v in event.summary.value:
        try:
            item = _value(v, step, wall)
        except Exception:  # a value we cannot read (odd dtype, bad PNG header): skip it
            item = None
        if isinstance(item, Item):
            items.append(item)
        else:
            skipped[item or "unreadable"] += 1


def _value(v: Any, step: int, wall: float) -> Item | str:
    """The Item of one summary value, or the name of what was skipped."""
    kind = v.WhichOneof("value")
    plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
    if kind == "simple_value":
        return Item(step, wall, v.tag, "scalar", float(v.simple_value))
    if kind == "image":
        img = v.image
        return Item(step, wall, v.tag, "image", {"png": bytes(img.encoded_image_string),
                                                "width": int(img.width),
                                                "height": int(img.height)})
    if kind == "histo":
        return _histo(v.histo, step, wall, v.tag)
    if plugin == "hparams":
        return _hparams(v.metadata.plugin_data.content, step, wall)
    if kind != "tensor":
        return kind or plugin or "empty"
    t = v.tensor
    if plugin == "text":
        cells = [s.decode("utf-8", "replace") for s in t.string_val]
        tag = v.tag[: -len("/text_summary")] if v.tag.endswith("/text_summary") else v.tag
        return Item(step, wall, tag, "text", "\n".join(cells))
    if plugin == "images":
        strings = list(t.string_val)
        if len(strings) < 3:
            return "image"
        return Item(step, wall, v.tag, "image", {"png": bytes(strings[2]),
                                                "width": int(strings[0] or 0),
                                                "height": int(strings[1] or 0)})
    numbers = _numbers(t)
    if plugin == "histograms":
        if not numbers or len(numbers) % 3:
            return "histogram"
        rows = [numbers[i:i + 3] for i in range(0, len(numbers), 3)]
        bins = [float(rows[0][0])] + [float(r[1]) for r in rows]
        return Item(step, wall, v.tag, "histogram",
                    {"bins": bins, "counts": [round(r[2]) for r in rows]})
    if plugin in ("", "scalars") and numbers is not None and len(numbers) == 1:
        return Item(step, wall, v.tag, "scalar", float(numbers[0]))
    return plugin or "tensor"


def _numbers(t: Any) -> list[Any] | None:
    """A numeric TensorProto's values, flat; None for other dtypes."""
    dtype = int(t.dtype)
    fmt = _PACKED.get(dtype)
    if fmt is None:
        return None
    if t.tensor_content:
        raw = bytes(t.tensor_content)
        size = struct.calcsize(fmt)
        return list(struct.unpack(f"<{len(raw) // size}{fmt}", raw[: len(raw) // size * size]))
    vals = list(getattr(t, _VALS[dtype]))
    if dtype == _DT_HALF:  # half_val holds the 16 bits in an int
        vals = [struct.unpack("<e", struct.pack("<H", h & 0xFFFF))[0] for h in vals]
    return vals


def _histo(h: Any, step: int, wall: float, tag: str) -> Item | str:
    """TensorBoard's HistogramProto (bucket i covers (limit[i-1], limit[i]]) as bins and
    counts, trimmed to the non-empty buckets, a run of empty ones merged; the outer edges
    are min and max."""
    limits, counts = list(h.bucket_limit), list(h.bucket)
    nonzero = [i for i, c in enumerate(counts) if c]
    if not nonzero or len(limits) != len(counts):
        return "histogram"
    lo, hi = nonzero[0], nonzero[-1]
    edges = [float(x) for x in limits[lo:hi + 1]]
    vmin, vmax = float(h.min), float(h.max)
    # The first bucket's left edge is the previous limit; min is a tighter one (the
    # smallest value lies in it), as max is for the last limit (often DBL_MAX).
    left = vmin if vmin <= edges[0] or lo == 0 else float(limits[lo - 1])
    if len(edges) == 1 or vmax > edges[-2]:
        edges[-1] = min(edges[-1], max(vmax, left))
    bins: list[float] = [left]
    out: list[int] = []
    for edge, c in zip(edges, counts[lo:hi + 1], strict=True):
        if not c and out and not out[-1]:
            bins[-1] = edge  # a run of empty buckets (TF's default limits) is one
        else:
            bins.append(edge)
            out.append(round(c))
    return Item(step, wall, tag, "histogram", {"bins": bins, "counts": out})


def _hparams(content: bytes, step: int, wall: float) -> Item | str:
    data = messages().HParamsPluginData.FromString(content)
    if data.WhichOneof("data") != "session_start_info":
        return "hparams_" + str(data.WhichOneof("data") or "empty")
    out: dict[str, Any] = {}
    for name, value in data.session_start_info.hparams.items():
        which = value.WhichOneof("kind")
        if which == "number_value":
            num = float(value.number_value)
            out[name] = int(num) if num.is_integer() and abs(num) < 2**53 else num
        elif which == "string_value":
            out[name] = str(value.string_value)
        elif which == "bool_value":
            out[name] = bool(value.bool_value)
        else:
            out[name] = None
    return Item(step, wall, "_hparams_", "hparams", out)
