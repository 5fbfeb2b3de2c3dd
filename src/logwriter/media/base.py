"""What every rich value is to ``log()``: a snapshot made in the caller's thread,
turned into record items on the media worker (worker.py).

A value's constructor validates its input and keeps a private copy of the
data (an array copy, a file's bytes): the cheapest thing that keeps the data
as it was at the call, whatever the training loop does to its buffers next.
Everything slow (PNG/WAV/GIF encoding, sha256, the histogram's bins, table
JSON) waits for `Media.items`, which the media worker calls to build the
``media`` record (logged.py, worker.py). A value is immutable once made, so logging the
same one twice stores its file once.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from logwriter.media.store import MediaStore
from logwriter.values.text import clean_text


class Media:
    """Base of Image, Audio, Video, Html, Histogram and Table."""

    kind: ClassVar[str]  # one of schema.records.MEDIA_KINDS
    nbytes: int = 0  # what the copy holds, for the writer queue's memory bound

    def freeze(self, key: str) -> Media:
        """The value as logged under ``key`` (a mutable value snapshots itself here);
        TypeError/ValueError naming ``key`` for what cannot be logged."""
        return self

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        """Writer thread: encode and store; the record items for this value."""
        raise NotImplementedError


def caption_of(caption: Any, what: str) -> str | None:
    """A caption: None or a str (stored as valid UTF-8), else a TypeError."""
    if caption is None:
        return None
    if not isinstance(caption, str):
        raise TypeError(f"runwal: {what}: caption must be a str, got {type(caption).__name__}")
    return clean_text(str(caption))


def read_file(path: str, what: str) -> bytes:
    """The bytes of a file a value is made from, read in the caller's thread: the file
    may change or go once log() returns. ValueError when ``path`` is no file."""
    if not os.path.isfile(path):
        raise ValueError(f"runwal: {what}: {path!r} is not a file")
    with open(path, "rb") as fh:
        return fh.read()


def type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def module_of(value: Any) -> str:
    """Top-level module of ``value``'s type ("numpy", "torch", "PIL"), without importing."""
    return type(value).__module__.partition(".")[0]


def as_numpy(value: Any, what: str) -> Any:
    """A private numpy copy of an array-like (numpy, torch on any device, jax, cupy,
    sequences); TypeError when it is none."""
    module = module_of(value)
    np = _numpy(what)
    try:
        if module == "torch":
            value = value.detach()
            if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16
                value = value.float()
            if value.is_cuda or value.device.type != "cpu":
                return value.cpu().numpy()  # the device-to-host copy is the copy
            return value.numpy().copy()
        if module == "cupy":
            return value.get()
        return np.array(value, copy=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"runwal: {what}: cannot read {type_name(value)} as an array ({exc})"
                        ) from None


def _numpy(what: str) -> Any:
    from logwriter.media.errors import need

    return need("numpy", what)
