"""Histogram: wandb's ``Histogram(sequence=None, np_histogram=None, num_bins=64)``.

No file: the item is the bins and counts themselves (``{"bins": [n + 1
floats], "counts": [n ints]}``, at most 512 bins as in wandb). The caller's
thread copies the values; ``np.histogram`` runs on the media worker. A
numeric array or tensor of more than 32 elements logged directly becomes a
Histogram of 32 bins (logged.py, wandb's rule). Non-finite values (NaN,
±inf) are left out of the bins and counted in the item's ``nonfinite``.
"""

from __future__ import annotations

from typing import Any

from logwriter.media.base import Media, as_numpy, type_name
from logwriter.media.store import MediaStore

MAX_BINS = 512


class Histogram(Media):
    """A histogram of values, or one already binned with ``np_histogram=(counts, bins)``."""

    kind = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None,
                 num_bins: int = 64) -> None:
        what = "Histogram()"
        if type(num_bins) is not int and not hasattr(num_bins, "__index__"):
            raise TypeError(f"runwal: {what}: num_bins must be an int")
        num_bins = int(num_bins)
        if not 1 <= num_bins <= MAX_BINS:
            raise ValueError(f"runwal: {what}: num_bins must be in 1..{MAX_BINS}, "
                             f"got {num_bins}")
        self.num_bins = num_bins
        self._values: Any = None
        self._nonfinite = 0
        self._binned: tuple[list[Any], list[float]] | None = None
        if np_histogram is not None:
            self._binned = _check_binned(np_histogram, what)
            self.nbytes = 16 * len(self._binned[1])
        elif sequence is not None:
            values = as_numpy(sequence, what)
            if values.dtype.kind not in "biuf":
                raise TypeError(f"runwal: {what}: values must be numbers, got an array of "
                                f"{values.dtype}")
            self._values = values.reshape(-1)
            self.nbytes = int(values.nbytes)
        else:
            raise ValueError(f"runwal: {what}: give a sequence or np_histogram=(counts, bins)")

    # wandb's attributes, computed when first read (the caller then pays for them)
    @property
    def histogram(self) -> list[Any]:
        return self._bin()[0]

    @property
    def bins(self) -> list[float]:
        return self._bin()[1]

    def _bin(self) -> tuple[list[Any], list[float]]:
        binned, values = self._binned, self._values
        if binned is None and values is not None:  # else another thread just binned it
            import numpy as np

            values = values.astype(np.float64, copy=False)
            finite = values[np.isfinite(values)]
            counts, edges = np.histogram(finite, bins=self.num_bins)
            self._nonfinite = int(values.size - finite.size)
            self._binned = binned = (counts.tolist(), edges.tolist())
            self._values = None  # the copy is not needed any more
        return binned or self._binned  # type: ignore[return-value]

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        counts, bins = self._bin()
        item: dict[str, Any] = {"bins": bins, "counts": counts}
        if self._nonfinite:
            item["nonfinite"] = self._nonfinite
        return [item]

    def __repr__(self) -> str:
        return f"<Histogram num_bins={self.num_bins}>"


def _check_binned(np_histogram: Any, what: str) -> tuple[list[Any], list[float]]:
    try:
        counts, bins = np_histogram
        counts = [_number(c, what) for c in _as_list(counts)]
        bins = [float(_number(b, what)) for b in _as_list(bins)]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"runwal: {what}: np_histogram must be (counts, bins) of numbers "
                        f"({exc})") from None
    if len(bins) != len(counts) + 1:
        raise ValueError(f"runwal: {what}: np_histogram has {len(counts)} counts and "
                         f"{len(bins)} bin edges; expected {len(counts) + 1} edges")
    if not 1 <= len(counts) <= MAX_BINS:
        raise ValueError(f"runwal: {what}: np_histogram must have 1..{MAX_BINS} bins")
    return counts, bins


def _as_list(value: Any) -> list[Any]:
    tolist = getattr(value, "tolist", None)
    return list(tolist() if callable(tolist) else value)


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{type_name(value)} is not a number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if type(value) in (int, float) else float(value)
