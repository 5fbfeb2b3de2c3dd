"""Text output of the inspection commands: aligned tables, sparklines, units.

Plain functions returning strings, so the commands stay small and tests can
check the text without a terminal. No colour: output is often piped or
pasted into an issue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """Unicode bars for ``values``, resampled to at most ``width`` characters.

    Non-finite values are left out; a flat series draws as the lowest bar.
    """
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return ""
    if len(vals) > width:
        # Mean of each of `width` equal slices of the series.
        n = len(vals)
        vals = [
            sum(chunk) / len(chunk)
            for i in range(width)
            if (chunk := vals[i * n // width : (i + 1) * n // width])
        ]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    top = len(SPARKS) - 1
    if span <= 0 or not math.isfinite(span):
        return SPARKS[0] * len(vals)
    return "".join(SPARKS[min(top, int((v - lo) / span * top + 0.5))] for v in vals)


def table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    right: frozenset[int] | set[int] = frozenset(),
    indent: str = "",
) -> str:
    """Columns padded to their widest cell; ``right`` holds right-aligned column indices."""
    cells = [[str(h) for h in headers]] + [[cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return number(value)
    return str(value)


def number(value: float | None) -> str:
    """Compact, precise-enough rendering of a metric value."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1e4 else f"{value:g}"
    return f"{value:.6g}"


def size(nbytes: int) -> str:
    """Bytes in binary units: 512 B, 1.5 KiB, 3.2 MiB."""
    amount = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{nbytes} B"  # unreachable; keeps type checkers happy


def duration(seconds: float | None) -> str:
    """Seconds as 45s, 12m03s, 3h04m, 2d05h."""
    if seconds is None or not math.isfinite(seconds) or abs(seconds) > 1e12:
        return "-"
    s = max(0, round(seconds))
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def timestamp(ts: float | None) -> str:
    """Local time, minute precision, sortable: 2024-05-01 14:03 ("-" when no date)."""
    local = _localtime(ts)
    return "-" if local is None else time.strftime("%Y-%m-%d %H:%M", local)


def iso(ts: float | None) -> str | None:
    """Local time with offset, second precision (for JSON and detail views)."""
    local = _localtime(ts)
    return None if local is None else time.strftime("%Y-%m-%dT%H:%M:%S%z", local)


def _localtime(ts: Any) -> time.struct_time | None:
    """``ts`` as local time; None for no time, NaN, infinities and years no calendar
    of this platform holds (a forged run.json or record may carry any of them)."""
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return None
    try:
        return time.localtime(ts) if math.isfinite(ts) else None
    except (OverflowError, OSError, ValueError):
        return None


def plural(n: int, word: str) -> str:
    """``1 line``, ``2 lines``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def short(value: Any, limit: int = 60) -> str:
    """One-line rendering of any value, cut at ``limit`` characters."""
    text = number(value) if isinstance(value, float) else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
