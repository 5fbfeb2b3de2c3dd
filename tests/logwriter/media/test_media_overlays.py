"""Image overlays (boxes, masks, classes): kept in the item, each mask a PNG of its own."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from logwriter.media import Image

RGB = np.zeros((6, 8, 3), dtype=np.uint8)
BOXES = {"predictions": {
    "box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6},
                  "class_id": 1, "box_caption": "cat", "scores": {"acc": np.float32(0.5)}},
                 {"position": {"middle": torch.tensor([4, 3]), "width": 2, "height": 2},
                  "domain": "pixel", "class_id": 0}],
    "class_labels": {0: "dog", np.int64(1): "cat"}}}


def test_boxes_masks_and_classes_are_kept(log_run: Any, tmp_path: Path) -> None:
    mask = np.zeros((6, 8), dtype=np.int64)
    mask[2:4, 3:6] = 2
    mask_file = tmp_path / "truth.png"
    PILImage.fromarray(np.full((6, 8), 1, np.uint8)).save(mask_file)
    image = Image(RGB, boxes=BOXES, classes=[{"id": 0, "name": "dog"}, {"id": 1, "name": "cat"}],
                  masks={"predictions": {"mask_data": mask, "class_labels": {0: "bg", 2: "x"}},
                         "truth": {"path": mask_file}})
    mask[:] = 9  # after Image(): the copy is stored
    logged = log_run({"img": image})
    item = logged.item("img")
    boxes = item["boxes"]["predictions"]
    assert boxes["class_labels"] == {"0": "dog", "1": "cat"}
    assert boxes["box_data"][0] == {
        "position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6}, "class_id": 1,
        "box_caption": "cat", "scores": {"acc": 0.5}}
    assert boxes["box_data"][1]["position"]["middle"] == [4, 3]
    assert item["classes"] == [{"id": 0, "name": "dog"}, {"id": 1, "name": "cat"}]
    pred = item["masks"]["predictions"]
    assert pred["file"].startswith("media/image/") and pred["file"].endswith(".png")
    assert (pred["width"], pred["height"], pred["class_labels"]) == (8, 6, {"0": "bg", "2": "x"})
    stored = np.asarray(PILImage.open(io.BytesIO(logged.data(pred))))
    assert stored.shape == (6, 8) and stored[2, 3] == 2 and stored[0, 0] == 0
    truth = item["masks"]["truth"]
    assert logged.data(truth) == mask_file.read_bytes() and "class_labels" not in truth
    assert len(logged.media_files()) == 3  # the image and its two masks


def test_default_class_labels_are_wandbs() -> None:
    image = Image(RGB, boxes={"p": {"box_data": [{"position": {"minX": 0, "maxX": 1, "minY": 0,
                                                                "maxY": 1}, "class_id": 3}]}},
                  masks={"p": {"mask_data": np.array([[0, 5]])}})
    assert image._boxes is not None and image._boxes["p"]["class_labels"] == {"3": "class_3"}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"boxes": {"p": {"box_data": [{"position": {"minX": 0}}]}}}, "needs a position"),
    ({"boxes": {"p": [1]}}, "'box_data' list"),
    ({"boxes": {"p": {"box_data": [{"position": {"middle": [1, 2], "width": 1, "height": 1},
                                    "class_id": "cat"}]}}}, "class_id must be an int"),
    ({"boxes": {"p": {"box_data": [], "class_labels": {"a": "b"}}}}, "class_labels must map"),
    ({"masks": {"p": {"mask_data": np.zeros((2, 2, 2))}}}, "HxW array"),
    ({"masks": {"p": {"mask_data": np.array([[300]])}}}, "0..255"),
    ({"masks": {"p": {}}}, "'mask_data'"),
    ({"classes": "cat"}, "classes must be a list"),
])
def test_bad_overlays_are_refused_when_made(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        Image(RGB, **kwargs)
