"""Video: wandb's ``Video(data_or_path, caption=None, fps=None, format=None)``.

An array is TxCxHxW (C in 1, 3, 4; wandb's layout), or BxTxCxHxW, tiled
into a grid as wandb does; uint8, or any numeric dtype scaled as Image's
(encode.to_uint8). It is encoded on the media worker with imageio as GIF
(wandb's default, ``fps`` 4), or as MP4 (H.264), WebM (VP9) or Ogg (Theora)
by the ffmpeg binary that the imageio-ffmpeg wheel ships, in yuv420p: grey
frames become RGB, alpha is dropped, and an odd height or width is padded by
one row or column, which ``width``/``height`` then say. A path is stored as
its bytes with its extension. imageio and Pillow (GIF) or imageio-ffmpeg
(the others) are checked for when the Video is made, so a missing extra
fails at that line, not on the media worker.
"""

from __future__ import annotations

import os
from typing import Any

from logwriter.media import encode
from logwriter.media.base import Media, as_numpy, caption_of, read_file
from logwriter.media.errors import need
from logwriter.media.store import MediaStore

FORMATS = ("gif", "mp4", "webm", "ogg")
DEFAULT_FPS = 4


class Video(Media):
    """One video clip; a list of them under one key is a gallery."""

    kind = "video"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: float | None = None,
                 format: str | None = None) -> None:
        what = "Video()"
        self.caption = caption_of(caption, what)
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                                or not 0 < fps <= 1000):
            raise ValueError(f"runwal: {what}: fps must be a number in (0, 1000], got {fps!r}")
        self.fps = fps
        self._frames: Any = None
        self._file: bytes | None = None
        self.frames = self.width = self.height = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            self._file = read_file(path, what)
            self.nbytes = len(self._file)
            self.format = (format or os.path.splitext(path)[1].lstrip(".") or "bin").lower()
            return
        self.format = (format or "gif").lower()
        if self.format not in FORMATS:
            raise ValueError(f"runwal: {what}: format {format!r} is not one of "
                             f"{', '.join(FORMATS)}")
        if self.format == "gif":
            need("imageio", "Video(format='gif')")
            need("PIL", "Video(format='gif')")
        else:
            need("imageio_ffmpeg", f"Video(format={self.format!r})")
        frames = as_numpy(data_or_path, what)
        if frames.dtype.kind not in "biuf":
            raise TypeError(f"runwal: {what}: frames must be numbers, got {frames.dtype}")
        if frames.ndim not in (4, 5) or frames.shape[-3] not in (1, 3, 4) or not frames.size:
            raise TypeError(f"runwal: {what}: expected a TxCxHxW or BxTxCxHxW array (C in 1, "
                            f"3, 4), got shape {frames.shape}")
        self._frames = frames
        self.frames = frames.shape[-4]
        self.height, self.width = frames.shape[-2:]
        self.nbytes = int(frames.nbytes)

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        if self._file is not None:
            data = self._file
        else:
            frames = _tiled(self._frames) if self._frames.ndim == 5 else self._frames
            self.height, self.width = frames.shape[-2:]
            pixels = encode.to_uint8(frames.transpose(0, 2, 3, 1))  # T x H x W x C
            data = encode.video(pixels, float(self.fps or DEFAULT_FPS), self.format)
            if self.format != "gif":  # ffmpeg's frames are padded to an even size
                self.height, self.width = self.height + self.height % 2, self.width + self.width % 2
        item = store.put("video", self.format, data)
        item.update(fps=self.fps if self._file is not None else (self.fps or DEFAULT_FPS),
                    format=self.format, caption=self.caption)
        if self.frames is not None:
            item.update(frames=self.frames, width=self.width, height=self.height)
        return [item]

    def __repr__(self) -> str:
        return f"<Video {self.format}>"


def _tiled(batch: Any) -> Any:
    """BxTxCxHxW -> Tx C x (rows*H) x (cols*W), padded to a power-of-two batch (wandb's grid)."""
    import numpy as np

    b, t, c, h, w = batch.shape
    n = 1 << (b - 1).bit_length()
    if n != b:
        batch = np.concatenate([batch, np.zeros((n - b, t, c, h, w), batch.dtype)])
    rows = 2 ** ((n.bit_length() - 1) // 2)
    cols = n // rows
    grid = batch.reshape(rows, cols, t, c, h, w).transpose(2, 3, 0, 4, 1, 5)
    return grid.reshape(t, c, rows * h, cols * w)
