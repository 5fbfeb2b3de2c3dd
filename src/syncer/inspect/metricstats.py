"""Streaming statistics of one metric series, in memory bounded by design.

A run may log a metric millions of times; ``show`` needs count, last, min,
max and a sparkline, not the series. `MetricStats` keeps the first four
exactly and `Downsampler` keeps a fixed number of evenly spread means for the
picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


class Downsampler:
    """Keeps at most ``2 * width`` points of a stream of any length.

    Each kept point is the mean of ``stride`` consecutive inputs; when the
    buffer fills, neighbours are merged pairwise and ``stride`` doubles. The
    result spans the whole stream evenly, which is what a sparkline needs.
    """

    def __init__(self, width: int = 64):
        self.cap = max(2, 2 * width)
        self.stride = 1
        self.points: list[float] = []
        self._sum = 0.0
        self._n = 0

    def add(self, value: float) -> None:
        self._sum += value
        self._n += 1
        if self._n < self.stride:
            return
        self.points.append(self._sum / self._n)
        self._sum, self._n = 0.0, 0
        if len(self.points) >= self.cap:
            pts = self.points
            self.points = [(pts[i] + pts[i + 1]) / 2 for i in range(0, len(pts) - 1, 2)]
            self.stride *= 2

    def values(self) -> list[float]:
        tail = [self._sum / self._n] if self._n else []
        return self.points + tail


@dataclass
class MetricStats:
    """Streaming statistics of one numeric series (bools count as 0/1)."""

    count: int = 0
    nonfinite: int = 0
    last: float | None = None
    last_step: int | None = None
    first_ts: float | None = None
    last_ts: float | None = None
    min: float | None = None
    max: float | None = None
    samples: Downsampler = field(default_factory=Downsampler, repr=False)

    def add(self, step: int | None, value: float, ts: float) -> None:
        self.count += 1
        self.last, self.last_step, self.last_ts = value, step, ts
        if self.first_ts is None:
            self.first_ts = ts
        if not math.isfinite(value):
            self.nonfinite += 1
            return
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        self.samples.add(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "last": self.last,
            "last_step": self.last_step,
            "min": self.min,
            "max": self.max,
            "nonfinite": self.nonfinite,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }


def as_number(value: Any) -> float | None:
    """The value as a float if it is a scalar number (bool -> 0/1), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond float range
            return math.inf if value > 0 else -math.inf
    return None
