"""Encoders: arrays to PNG, WAV, GIF/MP4 bytes, run by the media worker.

Run on the media worker's thread (worker.py; never in the caller's: a 256x256 PNG costs a few
milliseconds of zlib, against a few microseconds for the copy the caller
makes). PNG and WAV need the standard library only (zlib, wave); numpy is
there because the value was an array. GIF goes through imageio, MP4, WebM
and Ogg through the ffmpeg binary of imageio-ffmpeg, which the value checked
for when it was made (errors.need).

PNG layout (the PNG spec, section 5): the 8-byte signature, then chunks of
``length (u32 BE) | type (4 bytes) | data | crc32(type + data) (u32 BE)``:
IHDR (width, height, bit depth 8, colour type, compression 0, filter 0,
interlace 0), one IDAT (zlib stream of the filtered scanlines) and IEND.
Every scanline uses filter type 2 ("Up": each byte minus the byte above it,
mod 256), one numpy subtraction that makes smooth images several times
smaller than unfiltered ones.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# channels -> PNG colour type: grey, grey+alpha, RGB, RGBA
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
PNG_LEVEL = 6


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png(pixels: Any) -> bytes:
    """PNG bytes of an HxWxC uint8 array, C in 1..4."""
    import numpy as np

    height, width, channels = pixels.shape
    rows = pixels.reshape(height, width * channels)
    up = np.empty((height, width * channels + 1), dtype=np.uint8)
    up[:, 0] = 2  # filter type Up
    up[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=up[1:, 1:], casting="unsafe")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(up.tobytes(), PNG_LEVEL)) + _chunk(b"IEND", b""))


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, or None when ``data`` is no PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def to_uint8(data: Any, normalize: bool = True) -> Any:
    """wandb's rule for image and video arrays: floats (and ints that are not uint8)
    with a negative minimum are scaled to [0, 1] by min/max; values all <= 1 are
    then scaled by 255; the result is clipped to 0..255."""
    import numpy as np

    if data.dtype == np.uint8:
        return data
    if data.dtype == np.bool_:
        return data.astype(np.uint8) * 255
    if normalize and data.size:
        data = data.astype(np.float64)
        finite = data[np.isfinite(data)]
        lo = float(finite.min()) if finite.size else 0.0
        if lo < 0:
            span = float(finite.max()) - lo
            data = (data - lo) / (span or 1.0)
        if (float(finite.max()) if finite.size else 0.0) <= 1.0 or lo < 0:
            data = data * 255
    return np.nan_to_num(data, nan=0.0).clip(0, 255).astype(np.uint8)


def wav(samples: Any, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of a (frames,) or (frames, channels) array: floats are
    taken as [-1, 1], ints as int16 values (clipped)."""
    import wave

    import numpy as np

    data = samples if samples.ndim == 2 else samples.reshape(-1, 1)
    if np.issubdtype(data.dtype, np.floating):
        data = np.nan_to_num(data) * 32767.0
    pcm = np.clip(data, -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def wav_info(data: bytes) -> tuple[int, float] | None:
    """(sample_rate, duration s) of WAV bytes, or None when they are no WAV wave reads."""
    import wave

    try:
        with wave.open(io.BytesIO(data), "rb") as f:
            rate = f.getframerate()
            return rate, f.getnframes() / rate if rate else 0.0
    except (wave.Error, EOFError, OSError):
        return None


def video(frames: Any, fps: float, fmt: str) -> bytes:
    """GIF bytes (imageio's Pillow plugin) or MP4/WebM/Ogg bytes (`ffmpeg`) of a
    TxHxWxC uint8 array."""
    if fmt == "gif":
        import imageio.v3 as iio

        if frames.shape[-1] == 1:
            frames = frames[..., 0]
        return bytes(iio.imwrite("<bytes>", frames, extension=".gif",
                                 duration=1000.0 / fps, loop=0))
    return ffmpeg(even_rgb(frames), fps, fmt)


FFMPEG_CODECS = {"mp4": "libx264", "webm": "libvpx-vp9", "ogg": "libtheora"}


def ffmpeg(frames: Any, fps: float, fmt: str) -> bytes:
    """MP4 (H.264), WebM (VP9) or Ogg (Theora) bytes of TxHxWx3 uint8 frames of even
    size, from the ffmpeg binary of imageio-ffmpeg (imageio's own ffmpeg plugin picks
    H.264 for every container, which WebM refuses, and does not write Ogg at all)."""
    import os
    import tempfile

    import imageio_ffmpeg
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="runwal-video-") as tmp:
        path = os.path.join(tmp, f"video.{fmt}")
        writer = imageio_ffmpeg.write_frames(
            path, (frames.shape[2], frames.shape[1]), fps=fps, codec=FFMPEG_CODECS[fmt],
            macro_block_size=2, ffmpeg_log_level="error")
        writer.send(None)  # start ffmpeg
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        with open(path, "rb") as fh:
            return fh.read()


def even_rgb(frames: Any) -> Any:
    """TxHxWx3 frames ffmpeg's yuv420p encoders take: grey as RGB, alpha dropped, an odd
    height or width padded by repeating the last row or column (imageio would otherwise
    resize every frame to a multiple of 16 and warn on stderr)."""
    import numpy as np

    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    frames = frames[..., :3]
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames
