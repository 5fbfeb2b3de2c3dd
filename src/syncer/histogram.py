"""The statistics of a ``media`` record's histogram, whatever it is sent to.

A histogram item is ``{"bins": n + 1 edges, "counts": n}``. The MLflow sink
sends its statistics as metrics (`syncer.sinks.mlflow.media`) and ``export
--tensorboard`` writes them into a HistogramProto (`syncer.inspect.tbmedia`):
both take them, and the test of what counts as a histogram, from here.
"""

from __future__ import annotations

import math
from typing import Any


def histogram_stats(bins: Any, counts: Any) -> dict[str, float] | None:
    """min/max/mean/std of a histogram, or None when it is not one (or empty)."""
    if not isinstance(bins, list) or not isinstance(counts, list) or not counts:
        return None
    if len(bins) != len(counts) + 1:
        return None
    try:
        edges = [float(b) for b in bins]
        weights = [float(c) for c in counts]
    except (TypeError, ValueError, OverflowError):
        return None
    if not all(math.isfinite(x) for x in edges + weights) or any(w < 0 for w in weights):
        return None
    total = sum(weights)
    if total <= 0:
        return None
    used = [j for j, w in enumerate(weights) if w > 0]
    mids = [(edges[j] + edges[j + 1]) / 2 for j in range(len(weights))]
    mean = sum(w * m for w, m in zip(weights, mids, strict=True)) / total
    var = sum(w * (m - mean) ** 2 for w, m in zip(weights, mids, strict=True)) / total
    return {"min": edges[used[0]], "max": edges[used[-1] + 1], "mean": mean,
            "std": math.sqrt(max(var, 0.0))}
