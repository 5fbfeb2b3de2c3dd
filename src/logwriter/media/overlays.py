"""Image overlays: wandb's ``Image(boxes=, masks=, classes=)``, kept as item metadata.

MLflow has no overlays: after ``runwal sync`` its image panel shows the plain
image. The data is kept so that nothing a wandb script logs is lost (a
reader, or a later exporter, can draw it):

* ``boxes``: ``{group: {"box_data": [box, ...], "class_labels": {id: name}}}``
  as wandb takes it; each box a ``position`` (``minX``, ``maxX``, ``minY``,
  ``maxY``, or ``middle`` [x, y], ``width``, ``height``), optional
  ``domain`` ("pixel"; fractions of the image otherwise), ``class_id``,
  ``box_caption``, ``scores``. Stored as given, numbers made plain,
  ``class_labels`` keys as strings (JSON has no int keys); without
  ``class_labels``, wandb's default ``class_<id>`` names.
* ``masks``: ``{group: {"mask_data": HxW ints 0..255 | "path": file,
  "class_labels": {...}}}``: the mask array is copied in the caller's thread
  and stored on the media worker as an 8-bit grey PNG of its own under
  ``files/media/image/`` (a path's bytes as they are); the item names it as
  ``{"file", "size", "sha256", "class_labels"}`` (plus ``width``,
  ``height`` for an array).
* ``classes``: wandb's ``Classes`` list ``[{"id": int, "name": str}, ...]``
  (or a map of id to name), stored as that list.

Everything is checked when the Image is made (TypeError/ValueError naming
the group), as wandb checks it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from logwriter.media import encode
from logwriter.media.base import as_numpy, module_of, read_file, type_name
from logwriter.media.store import MediaStore
from logwriter.values.convert import convert

_CORNERS = ("minX", "maxX", "minY", "maxY")


def check_boxes(boxes: Any, what: str) -> dict[str, Any]:
    """``boxes`` as stored: plain JSON values, checked as wandb checks them."""
    out: dict[str, Any] = {}
    for group, val in _groups(boxes, "boxes", what).items():
        where = f"{what}: boxes[{group!r}]"
        if not isinstance(val, Mapping) or not isinstance(val.get("box_data"), (list, tuple)):
            raise TypeError(f"runwal: {where} must be a dict with a 'box_data' list")
        box_data, _ = convert(_plain(list(val["box_data"])), group, where)
        for i, box in enumerate(box_data):
            _check_box(box, f"{where}['box_data'][{i}]")
        labels = val.get("class_labels")
        if labels is None:
            ids = sorted({int(b["class_id"]) for b in box_data if "class_id" in b})
            labels = {i: f"class_{i}" for i in ids}
        out[group] = {"box_data": box_data, "class_labels": _labels(labels, where)}
    return out


def _check_box(box: Any, where: str) -> None:
    pos = box.get("position") if isinstance(box, dict) else None
    if not isinstance(pos, dict) or not (
            all(_is_num(pos.get(k)) for k in _CORNERS)
            or (isinstance(pos.get("middle"), list) and len(pos["middle"]) == 2
                and all(_is_num(v) for v in pos["middle"])
                and _is_num(pos.get("width")) and _is_num(pos.get("height")))):
        raise TypeError(f"runwal: {where}: a box needs a position with minX, maxX, minY, "
                        "maxY, or middle [x, y], width and height")
    if "class_id" in box and type(box["class_id"]) is not int:
        raise TypeError(f"runwal: {where}: class_id must be an int")
    if "box_caption" in box and not isinstance(box["box_caption"], str):
        raise TypeError(f"runwal: {where}: box_caption must be a str")
    scores = box.get("scores", {})
    if not isinstance(scores, dict) or not all(_is_num(v) for v in scores.values()):
        raise TypeError(f"runwal: {where}: scores must be a dict of names to numbers")


class Masks:
    """The masks of one Image, copied when it is made, stored by the media worker."""

    def __init__(self, masks: Any, what: str) -> None:
        self._groups: dict[str, tuple[Any, bytes | None, str, dict[str, str] | None]] = {}
        self.nbytes = 0
        for group, val in _groups(masks, "masks", what).items():
            where = f"{what}: masks[{group!r}]"
            if not isinstance(val, Mapping) or ("mask_data" in val) == ("path" in val):
                raise TypeError(f"runwal: {where} must be a dict with 'mask_data' (an HxW "
                                "array of class ids) or 'path' (an image file)")
            labels = val.get("class_labels")
            if "path" in val:
                path = os.fspath(val["path"])
                data = read_file(path, where)
                ext = (os.path.splitext(path)[1].lstrip(".").lower() or "png")[:10]
                self._groups[group] = (None, data, ext, None if labels is None
                                       else _labels(labels, where))
                self.nbytes += len(data)
                continue
            arr = as_numpy(val["mask_data"], where)
            if arr.ndim != 2 or arr.dtype.kind not in "biuf" or not arr.size:
                raise TypeError(f"runwal: {where}: mask_data must be a non-empty HxW array "
                                f"of class ids, got {arr.dtype} {arr.shape}")
            if arr.min() < 0 or arr.max() > 255:
                raise ValueError(f"runwal: {where}: mask_data class ids must be in 0..255")
            if labels is None:
                import numpy as np

                labels = {int(c): f"class_{int(c)}" for c in np.unique(arr)}
            self._groups[group] = (arr, None, "png", _labels(labels, where))
            self.nbytes += int(arr.nbytes)

    def items(self, store: MediaStore) -> dict[str, Any]:
        """Media worker: each mask's file stored; the item's ``masks``."""
        out: dict[str, Any] = {}
        for group, (arr, data, ext, labels) in self._groups.items():
            meta: dict[str, Any] = {}
            if arr is not None:
                data = encode.png(arr.astype("uint8")[:, :, None])
                meta = {"width": int(arr.shape[1]), "height": int(arr.shape[0])}
            assert data is not None
            ref = store.put("image", ext, data)
            ref.update(meta)
            if labels is not None:
                ref["class_labels"] = labels
            out[group] = ref
        return out


def check_classes(classes: Any, what: str) -> list[dict[str, Any]]:
    """wandb's Classes (a list of {"id", "name"}, a Classes object, or {id: name})."""
    if hasattr(classes, "_class_set"):  # a wandb.Classes
        classes = classes._class_set
    if isinstance(classes, Mapping):
        classes = [{"id": k, "name": v} for k, v in classes.items()]
    if not isinstance(classes, (list, tuple)):
        raise TypeError(f"runwal: {what}: classes must be a list of {{'id': int, 'name': "
                        f"str}}, got {type_name(classes)}")
    out, _ = convert(list(classes), "classes", what)
    for c in out:
        if not isinstance(c, dict) or type(c.get("id")) is not int:
            raise TypeError(f"runwal: {what}: each class must be a dict with an int 'id' "
                            "(and a 'name')")
    return out


def _groups(value: Any, name: str, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"runwal: {what}: {name} must be a dict of group names (e.g. "
                        f"'predictions') to overlays, got {type_name(value)}")
    return {str(k): v for k, v in value.items()}


def _labels(labels: Any, where: str) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        raise TypeError(f"runwal: {where}: class_labels must be a dict of int ids to names")
    out = {}
    for k, v in labels.items():
        if isinstance(k, bool) or not hasattr(k, "__index__") or not isinstance(v, str):
            raise TypeError(f"runwal: {where}: class_labels must map int ids to str, got "
                            f"{k!r}: {v!r}")
        out[str(int(k))] = str(v)
    return out


def _plain(value: Any) -> Any:
    """Arrays and tensors inside a box (a torch ``middle``) as lists, as wandb does."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if module_of(value) in ("numpy", "torch"):
        ndim: Any = getattr(value, "ndim", None)
        if ndim:
            return value.tolist()
    return value


def _is_num(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))
