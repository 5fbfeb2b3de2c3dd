"""Image: every accepted input round-trips through the PNG decoded by Pillow."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from logwriter.media import Image

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (12, 17, 3), dtype=np.uint8)


def decoded(logged: Any, key: str) -> tuple[dict[str, Any], np.ndarray]:
    item = logged.item(key)
    img = PILImage.open(io.BytesIO(logged.data(item)))
    assert img.format == "PNG"
    return item, np.asarray(img)


@pytest.mark.parametrize(("value", "expected"), [
    (RGB, RGB),
    (RGB[:, :, 0], RGB[:, :, 0]),  # HxW: grey
    (RGB[:, :, :1], RGB[:, :, 0]),  # HxWx1: grey
    (np.concatenate([RGB, RGB[:, :, :1]], axis=2), np.concatenate([RGB, RGB[:, :, :1]], 2)),
    (np.ascontiguousarray(RGB.transpose(2, 0, 1)), RGB),  # CxHxW
    (RGB[None], RGB),  # a batch of one
    (RGB.astype(np.float32) / 255.0, RGB),  # floats in [0, 1]
    (torch.from_numpy(np.ascontiguousarray(RGB.transpose(2, 0, 1))), RGB),  # torch CxHxW
    (torch.from_numpy(RGB.astype(np.float32) / 255.0).permute(2, 0, 1), RGB),
])
def test_arrays_round_trip(log_run: Any, value: Any, expected: np.ndarray) -> None:
    logged = log_run({"img": Image(value, caption="a cat")})
    item, pixels = decoded(logged, "img")
    assert np.array_equal(pixels, expected)
    assert (item["width"], item["height"], item["format"]) == (17, 12, "png")
    assert item["caption"] == "a cat"
    assert item["file"].startswith("media/image/") and item["file"].endswith(".png")
    assert set(item) == {"file", "size", "sha256", "width", "height", "format", "caption"}


def test_negative_floats_are_scaled_by_min_max(log_run: Any) -> None:
    logged = log_run({"img": Image(np.array([[-1.0, 0.0, 1.0]]))})
    _, pixels = decoded(logged, "img")
    assert pixels.tolist() == [[0, 127, 255]]


def test_the_array_is_copied_when_the_image_is_made(log_run: Any) -> None:
    buf = RGB.copy()
    img = Image(buf)
    buf[:] = 0  # the training loop reuses its buffer
    _, pixels = decoded(log_run({"img": img}), "img")
    assert np.array_equal(pixels, RGB)


def test_pil_image_and_files(log_run: Any, tmp_path: Path) -> None:
    pil = PILImage.fromarray(RGB)
    png = tmp_path / "x.png"
    pil.save(png)
    jpg = tmp_path / "x.jpg"
    pil.save(jpg, quality=95)
    logged = log_run({"pil": Image(pil), "png": Image(png), "jpg": Image(str(jpg)),
                      "as_jpg": Image(RGB, file_type="jpg")})
    assert np.array_equal(decoded(logged, "pil")[1], RGB)
    item, pixels = decoded(logged, "png")
    assert np.array_equal(pixels, RGB) and logged.data(item) == png.read_bytes()
    item = logged.item("jpg")
    assert logged.data(item) == jpg.read_bytes()  # stored as it is
    assert (item["format"], item["width"], item["height"]) == ("jpg", 17, 12)
    assert item["file"].endswith(".jpg")
    assert logged.item("as_jpg")["format"] == "jpg"


def test_a_list_of_images_is_a_gallery(log_run: Any) -> None:
    logged = log_run({"gallery": [Image(RGB, caption=str(i)) for i in range(3)], "loss": 1.0})
    (body,) = logged.of("gallery")
    assert body["kind"] == "image" and body["step"] == 0
    assert [i["caption"] for i in body["items"]] == ["0", "1", "2"]
    assert len({i["file"] for i in body["items"]}) == 1  # the same pixels: one file


def test_identical_images_are_stored_once(log_run: Any) -> None:
    logged = log_run(*({"img": Image(RGB)} for _ in range(5)), {"other": Image(RGB[::-1])})
    assert [b["step"] for b in logged.of("img")] == [0, 1, 2, 3, 4]
    assert len({b["items"][0]["sha256"] for b in logged.of("img")}) == 1
    assert len(logged.media_files()) == 2


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: Image(np.zeros((5, 6, 7))), TypeError, r"shape \(5, 6, 7\)"),
    (lambda: Image(np.zeros((2, 3, 4, 5))), TypeError, "no image"),
    (lambda: Image(np.zeros((0, 5)),), ValueError, "empty"),
    (lambda: Image(np.array([["a"]])), TypeError, "numbers"),
    (lambda: Image(RGB, mode="L"), ValueError, "mode 'L' needs 1 channels"),
    (lambda: Image(RGB, mode="CMYK"), ValueError, "mode 'CMYK'"),
    (lambda: Image(RGB, caption=3), TypeError, "caption"),
    (lambda: Image("/nonexistent/x.png"), ValueError, "is not a file"),
    (lambda: Image(RGB, file_type="tiff"), ValueError, "file_type"),
    (lambda: Image(RGB, boxes={}), TypeError, "boxes must be a dict of group names"),
])
def test_bad_images_are_refused_when_made(make: Any, error: type[Exception], match: str
                                          ) -> None:
    with pytest.raises(error, match=match):
        make()
