"""Audio, Video, Html: each round-trips through its file."""

from __future__ import annotations

import io
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from logwriter.media import Audio, Html, MissingExtraError, Video


def test_audio_array_is_a_16_bit_wav(log_run: Any) -> None:
    t = np.arange(800) / 8000.0
    mono = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([mono, -mono], axis=1)
    logged = log_run({"mono": Audio(mono, sample_rate=8000, caption="la"),
                      "stereo": Audio(stereo.astype(np.float32), sample_rate=8000),
                      "ints": Audio(np.array([0, 1000, -1000], dtype=np.int16), 100)})
    item = logged.item("mono")
    assert {k: item[k] for k in ("sample_rate", "duration", "format", "caption")} == {
        "sample_rate": 8000, "duration": 0.1, "format": "wav", "caption": "la"}
    with wave.open(io.BytesIO(logged.data(item))) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    assert np.array_equal(pcm, np.clip(mono * 32767, -32768, 32767).astype(np.int16))
    with wave.open(io.BytesIO(logged.data(logged.item("stereo")))) as f:
        assert f.getnchannels() == 2
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2").reshape(-1, 2)
    assert np.array_equal(pcm[:, 0], -pcm[:, 1])
    with wave.open(io.BytesIO(logged.data(logged.item("ints")))) as f:
        assert np.frombuffer(f.readframes(3), "<i2").tolist() == [0, 1000, -1000]


def test_audio_files_are_stored_as_they_are(log_run: Any, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes(b"\x00\x00" * 8000)
    mp3 = tmp_path / "b.mp3"
    mp3.write_bytes(b"ID3 not really an mp3")
    logged = log_run({"wav": Audio(wav), "mp3": Audio(str(mp3))})
    item = logged.item("wav")
    assert logged.data(item) == wav.read_bytes()
    assert (item["sample_rate"], item["duration"], item["format"]) == (16000, 0.5, "wav")
    item = logged.item("mp3")
    assert logged.data(item) == mp3.read_bytes() and item["file"].endswith(".mp3")
    assert (item["sample_rate"], item["duration"], item["format"]) == (None, None, "mp3")


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Audio(np.zeros(10)), "sample_rate is required"),
    (lambda: Audio(np.zeros(10), sample_rate=0), "sample_rate"),
    (lambda: Audio(np.zeros((2, 2, 2)), sample_rate=10), "frames"),
    (lambda: Audio(np.zeros((10, 40)), sample_rate=10), "channels"),
    (lambda: Audio("/nonexistent.wav"), "is not a file"),
])
def test_bad_audio(make: Any, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_video_array_is_a_gif_of_its_frames(log_run: Any) -> None:
    frames = np.zeros((3, 3, 8, 10), dtype=np.uint8)  # T x C x H x W
    for t in range(3):
        frames[t, t % 3] = 255  # red, green, blue frames
    logged = log_run({"v": Video(frames, fps=10, caption="rgb")})
    item = logged.item("v")
    assert {k: item[k] for k in ("fps", "format", "frames", "width", "height", "caption")} == {
        "fps": 10, "format": "gif", "frames": 3, "width": 10, "height": 8, "caption": "rgb"}
    gif = PILImage.open(io.BytesIO(logged.data(item)))
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (10, 8)
    for t in range(3):
        gif.seek(t)
        pixel = gif.convert("RGB").getpixel((0, 0))
        assert pixel == tuple(255 if c == t else 0 for c in range(3))


def test_a_batch_of_videos_is_tiled_into_a_grid(log_run: Any) -> None:
    logged = log_run({"v": Video(np.full((3, 2, 1, 4, 5), 200, dtype=np.uint8))})
    item = logged.item("v")
    assert (item["fps"], item["width"], item["height"]) == (4, 10, 8)  # 4 slots: 2 x 2


def test_video_file_and_missing_imageio(log_run: Any, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42 fake")
    logged = log_run({"v": Video(mp4, fps=25)})
    item = logged.item("v")
    assert logged.data(item) == mp4.read_bytes() and item["format"] == "mp4"
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(MissingExtraError, match=r"Video\(format='mp4'\) needs imageio-ffmpeg"):
        Video(np.zeros((1, 3, 2, 2), dtype=np.uint8), format="mp4")
    monkeypatch.setitem(sys.modules, "imageio", None)
    with pytest.raises(MissingExtraError, match=r"Video\(format='gif'\) needs imageio.*runwal"):
        Video(np.zeros((1, 3, 2, 2), dtype=np.uint8))


def played(data: bytes, ext: str = ".mp4") -> np.ndarray:
    """The frames ffmpeg decodes from MP4 (or WebM) bytes. imageio's ffmpeg reader leaves its
    pipes to the garbage collector (a ResourceWarning, an error here): collected now,
    with that warning ignored."""
    import gc
    import warnings

    import imageio.v3 as iio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        frames = iio.imread(data, extension=ext, plugin="FFMPEG")
        gc.collect()
    return frames


def test_video_mp4_plays_back_its_frames(log_run: Any) -> None:
    pytest.importorskip("imageio_ffmpeg")
    frames = np.zeros((6, 3, 15, 21), dtype=np.uint8)  # odd H and W: padded to even
    for t in range(6):
        frames[t, t % 3] = 250  # red, green, blue, ...
    grey = np.full((2, 1, 8, 8), 128, dtype=np.uint8)
    logged = log_run({"v": Video(frames, fps=6, format="mp4", caption="rgb"),
                      "grey": Video(grey, format="mp4")})
    item = logged.item("v")
    assert {k: item[k] for k in ("fps", "format", "frames", "width", "height", "caption")} == {
        "fps": 6, "format": "mp4", "frames": 6, "width": 22, "height": 16, "caption": "rgb"}
    data = logged.data(item)
    assert data[4:8] == b"ftyp" and item["file"].endswith(".mp4")
    back = played(data)
    assert back.shape == (6, 16, 22, 3)
    for t in range(6):  # lossy, but each frame's colour survives
        assert int(np.argmax(back[t, 8, 10])) == t % 3 and back[t, 8, 10].max() > 200
    assert played(logged.data(logged.item("grey"))).shape == (2, 8, 8, 3)


def test_video_webm_and_ogg(log_run: Any) -> None:
    pytest.importorskip("imageio_ffmpeg")
    frames = np.full((3, 3, 8, 10), 200, dtype=np.uint8)
    logged = log_run({"webm": Video(frames, format="webm"), "ogg": Video(frames, format="ogg")})
    webm = logged.data(logged.item("webm"))
    assert webm[:4] == b"\x1a\x45\xdf\xa3" and played(webm, ".webm").shape == (3, 8, 10, 3)
    assert logged.data(logged.item("ogg"))[:4] == b"OggS"
    assert logged.item("ogg")["format"] == "ogg"


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Video(np.zeros((2, 2, 2))), "TxCxHxW"),
    (lambda: Video(np.zeros((2, 5, 2, 2))), "TxCxHxW"),
    (lambda: Video(np.zeros((2, 3, 2, 2)), format="avi"), "format"),
    (lambda: Video(np.zeros((2, 3, 2, 2)), fps=0), "fps"),
])
def test_bad_video(make: Any, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_html_text_and_file(log_run: Any, tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text("<p>from a file \u2713</p>", encoding="utf-8")
    logged = log_run({"text": Html("<b>hi</b>"), "file": Html(str(page)),
                      "fh": Html(io.StringIO("<i>x</i>")),
                      "literal": Html("p.html", data_is_not_path=True)})
    assert logged.data(logged.item("text")) == b"<b>hi</b>"
    assert logged.data(logged.item("file")).decode() == "<p>from a file \u2713</p>"
    assert logged.data(logged.item("fh")) == b"<i>x</i>"
    assert logged.data(logged.item("literal")) == b"p.html"
    assert logged.item("text")["format"] == "html"
    assert logged.item("text")["file"].startswith("media/html/")
    with pytest.raises(TypeError, match="HTML text"):
        Html(3)
