"""Image: wandb's ``Image(data_or_path, mode=None, caption=None, ...)``.

Accepted, as wandb does: numpy arrays HxW, HxWxC or CxHxW (C in 1..4; the
channel axis is the last one unless only the first fits), torch tensors
(CxHxW, as torchvision makes them; HxWxC when only the last axis fits),
uint8 or any other numeric dtype (floats in [0, 1] are scaled by 255;
anything with a negative minimum is first scaled to [0, 1] by min/max;
``normalize=False`` only clips to 0..255), PIL images, and paths of image
files (their bytes are stored as they are), and matplotlib figures (or the
pyplot module, for its current figure), rendered to PNG when the Image is
made, on the caller's thread: a figure is mutable, so what is stored is the
figure as it was at this call (figures.py). ``mode`` is one of L, LA, RGB,
RGBA and must agree with the channels.

The caller's thread checks the shape and copies the array (or the PIL image,
or the file's bytes); the PNG is encoded on the media worker with zlib only
(encode.py). PIL images, non-PNG files and ``file_type`` other than png use
Pillow, checked for when the Image is made. Overlays (``boxes``, ``masks``,
``classes``, wandb's layouts) are kept as the item's metadata, each mask as
a PNG of its own (overlays.py); MLflow shows the image without them.
"""

from __future__ import annotations

import os
from typing import Any

from logwriter.media import encode
from logwriter.media.base import Media, as_numpy, caption_of, module_of, read_file
from logwriter.media.errors import need
from logwriter.media.figures import figure_png, is_figure
from logwriter.media.overlays import Masks, check_boxes, check_classes
from logwriter.media.store import MediaStore

MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
_CHANNELS = (1, 2, 3, 4)
FILE_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif")


class Image(Media):
    """One image; a list of them under one key is a gallery."""

    kind = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None,
                 masks: Any = None, file_type: str | None = None,
                 normalize: bool = True) -> None:
        what = "Image()"
        self._boxes = None if boxes is None else check_boxes(boxes, what)
        self._masks = None if masks is None else Masks(masks, what)
        self._classes = None if classes is None else check_classes(classes, what)
        self.caption = caption_of(caption, what)
        self.grouping = grouping
        self.normalize = bool(normalize)
        self.file_type = _file_type(file_type, what)
        self.mode = mode
        self._pixels: Any = None  # HxWxC (or CxHxW when _chw) array, a private copy
        self._chw = False
        self._pil: Any = None
        self._file: bytes | None = None
        self._ext = "png"
        if mode is not None and mode not in MODES:
            raise ValueError(f"runwal: {what}: mode {mode!r} is not one of "
                             f"{', '.join(MODES)}")
        if isinstance(data_or_path, (str, os.PathLike)):
            self._from_path(os.fspath(data_or_path), what)
        elif is_figure(data_or_path):
            if module_of(data_or_path) == "plotly":
                raise TypeError(f"runwal: {what}: a plotly figure is no image; log it "
                                "directly (it is stored as Html)")
            self._from_bytes(figure_png(data_or_path, what))
        elif module_of(data_or_path) == "PIL":
            self._pil = data_or_path.copy()
            self.width, self.height = self._pil.size
            self.nbytes = self.width * self.height * len(self._pil.getbands())
        else:
            self._from_array(data_or_path, what)
        if self.file_type != "png" and self._file is None:
            need("PIL", f"Image(file_type={self.file_type!r})")
        if self._masks is not None:
            self.nbytes += self._masks.nbytes

    def _from_path(self, path: str, what: str) -> None:
        data = read_file(path, what)
        if encode.png_size(data) is None:  # another format: Pillow reads its size later
            need("PIL", f"Image({os.path.basename(path)!r})")
        self._from_bytes(data)

    def _from_bytes(self, data: bytes) -> None:
        """The bytes of an image file, kept as they are (PNG, or what Pillow reads)."""
        self._file = data
        self.nbytes = len(data)
        size = encode.png_size(data)
        if size is not None:
            self.width, self.height = size
            self._ext = "png"
        else:  # another format: Pillow reads its size on the media worker
            self.width = self.height = 0
            self._ext = ""

    def _from_array(self, data: Any, what: str) -> None:
        torch = module_of(data) == "torch"
        arr = as_numpy(data, what)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"runwal: {what}: pixels must be numbers, got an array of {arr.dtype}")
        while arr.ndim > 3 and arr.shape[0] == 1:  # a batch of one
            arr = arr[0]
        if arr.ndim == 2:
            arr = arr[:, :, None]
        elif arr.ndim == 3:
            first, last = arr.shape[0] in _CHANNELS, arr.shape[-1] in _CHANNELS
            self._chw = first and (torch or not last)
            if not (first or last):
                raise TypeError(f"runwal: {what}: an array of shape {arr.shape} has no channel "
                                "axis of 1-4 (expected HxW, HxWxC or CxHxW)")
        else:
            raise TypeError(f"runwal: {what}: an array of shape {arr.shape} is no image "
                            "(expected HxW, HxWxC or CxHxW)")
        channels = arr.shape[0] if self._chw else arr.shape[2]
        self.height, self.width = arr.shape[1:] if self._chw else arr.shape[:2]
        if not self.height or not self.width:
            raise ValueError(f"runwal: {what}: the image of shape {arr.shape} is empty")
        if self.mode is not None and MODES[self.mode] != channels:
            raise ValueError(f"runwal: {what}: mode {self.mode!r} needs {MODES[self.mode]} "
                             f"channels, the array has {channels}")
        self._pixels = arr
        self.nbytes = int(arr.nbytes)

    # -- media worker ------------------------------------------------------------

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        ext = self.file_type
        if self._file is not None:
            data, ext = self._file, self._ext
            if not ext:
                ext, self.width, self.height = _pil_info(data)
        elif self._pil is not None:
            data = _pil_bytes(self._pil, ext)
        else:
            pixels = self._pixels.transpose(1, 2, 0) if self._chw else self._pixels
            pixels = encode.to_uint8(pixels, self.normalize)
            if ext == "png":
                data = encode.png(pixels)
            else:
                from PIL import Image as PILImage

                data = _pil_bytes(PILImage.fromarray(pixels[..., 0] if pixels.shape[2] == 1
                                                     else pixels), ext)
        item = store.put("image", ext, data)
        item.update(width=self.width, height=self.height, format=ext, caption=self.caption)
        if self._boxes is not None:
            item["boxes"] = self._boxes
        if self._masks is not None:
            item["masks"] = self._masks.items(store)
        if self._classes is not None:
            item["classes"] = self._classes
        return [item]

    def cell(self, store: MediaStore) -> dict[str, Any]:
        """This image as a table cell (table.py)."""
        item = self.items(store)[0]
        cell = {"_type": "image", **item}
        del cell["format"]
        return cell

    def __repr__(self) -> str:
        return f"<Image {getattr(self, 'width', '?')}x{getattr(self, 'height', '?')}>"


def _file_type(file_type: Any, what: str) -> str:
    if file_type is None:
        return "png"
    name = str(file_type).lower().lstrip(".")
    if name not in FILE_TYPES:
        raise ValueError(f"runwal: {what}: file_type {file_type!r} is not one of "
                         f"{', '.join(FILE_TYPES)}")
    return "jpg" if name == "jpeg" else name


def _pil_bytes(img: Any, ext: str) -> bytes:
    import io

    fmt = {"jpg": "JPEG"}.get(ext, ext.upper())
    if fmt == "JPEG" and img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    elif img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        img = img.convert("RGBA" if "A" in img.mode else "RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _pil_info(data: bytes) -> tuple[str, int, int]:
    """(extension, width, height) of image bytes that are no PNG, read by Pillow."""
    import io

    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as img:
        fmt = (img.format or "bin").lower()
        return ("jpg" if fmt == "jpeg" else fmt), img.size[0], img.size[1]

