"""Audio: wandb's ``Audio(data_or_path, sample_rate=None, caption=None)``.

An array is (frames,) or (frames, channels), floats in [-1, 1] or ints
(int16 values), stored as a 16-bit PCM WAV written with the standard
library's ``wave`` on the media worker (worker.py). A path is stored as its bytes with
its extension (wav, mp3, flac, ogg, ...); the sample rate and duration are
read from WAV files only (``null`` for other formats).
"""

from __future__ import annotations

import os
from typing import Any

from logwriter.media import encode
from logwriter.media.base import Media, as_numpy, caption_of, read_file
from logwriter.media.store import MediaStore


class Audio(Media):
    """One audio clip; a list of them under one key is a gallery."""

    kind = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None,
                 caption: str | None = None) -> None:
        what = "Audio()"
        self.caption = caption_of(caption, what)
        self._samples: Any = None
        self._file: bytes | None = None
        self._ext = "wav"
        self.sample_rate: int | None = None
        self.duration: float | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            self._file = read_file(path, what)
            self.nbytes = len(self._file)
            self._ext = (os.path.splitext(path)[1].lstrip(".").lower() or "bin")[:10]
            return
        if sample_rate is None:
            raise ValueError(f"runwal: {what}: sample_rate is required for an array")
        if isinstance(sample_rate, bool) or not hasattr(sample_rate, "__index__") \
                or not 0 < int(sample_rate) < 2**31:
            raise ValueError(f"runwal: {what}: sample_rate must be a positive int, "
                             f"got {sample_rate!r}")
        samples = as_numpy(data_or_path, what)
        if samples.dtype.kind not in "iuf" or samples.ndim not in (1, 2) or not samples.size:
            raise TypeError(f"runwal: {what}: expected a non-empty (frames,) or (frames, "
                            f"channels) array of numbers, got {samples.dtype} {samples.shape}")
        if samples.ndim == 2 and not 1 <= samples.shape[1] <= 16:
            raise TypeError(f"runwal: {what}: {samples.shape[1]} channels; expected "
                            "(frames, channels) with at most 16 channels")
        self._samples = samples
        self.sample_rate = int(sample_rate)
        self.duration = samples.shape[0] / self.sample_rate
        self.nbytes = int(samples.nbytes)

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        if self._file is not None:
            data = self._file
            info = encode.wav_info(data) if self._ext == "wav" else None
            if info is not None:
                self.sample_rate, self.duration = info
        else:
            assert self.sample_rate is not None
            data = encode.wav(self._samples, self.sample_rate)
        item = store.put("audio", self._ext, data)
        item.update(sample_rate=self.sample_rate, duration=self.duration, format=self._ext,
                    caption=self.caption)
        return [item]

    def __repr__(self) -> str:
        return f"<Audio {self.duration}s at {self.sample_rate} Hz>"
