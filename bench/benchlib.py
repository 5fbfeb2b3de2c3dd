"""Shared helpers for the hand-run benchmarks: workload values, stats, tables, results.

Kept free of any contender's import (and of numpy) so that a worker process
that imports this module measures only the library under test.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import random
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

# Realistic metric names: the bytes per point depend a little on key length
# (every contender but runwal repeats the key with every point).
KEY_NAMES = (
    "train/loss", "train/acc", "train/lr", "train/grad_norm", "train/tokens_per_s",
    "val/loss", "val/acc", "gpu/mem_gb", "epoch", "throughput/samples_per_s",
)  # fmt: skip


def workload_rows(steps: int, keys: int, seed: int = 1234) -> list[dict[str, float]]:
    """The same deterministic float rows for every contender.

    Values look like a training curve plus noise, so they are full-entropy
    float64s: nothing wins by compressing a constant.
    """
    rng = random.Random(seed)
    names = KEY_NAMES[:keys]
    rows = []
    for i in range(steps):
        base = 2.5 * math.exp(-i / 5000.0) + 0.1
        rows.append({n: base * (1.0 + 0.1 * k) + rng.gauss(0.0, 0.02) for k, n in enumerate(names)})
    return rows


def percentile(sorted_vals: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_vals:
        return float("nan")
    idx = min(len(sorted_vals) - 1, max(0, math.ceil(q / 100.0 * len(sorted_vals)) - 1))
    return float(sorted_vals[idx])


def median(vals: Iterable[float]) -> float:
    s = sorted(vals)
    return percentile(s, 50) if s else float("nan")


def tree_bytes(root: str | os.PathLike[str], pattern: str | None = None) -> int:
    """Sum of the sizes of the files under ``root`` (optionally matching a glob)."""
    paths = Path(root).rglob(pattern or "*")
    return sum(p.stat().st_size for p in paths if p.is_file() and not p.is_symlink())


def machine_info() -> dict[str, Any]:
    """What the numbers were taken on; goes into every results file."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_1m": os.getloadavg()[0],
    }
    with contextlib.suppress(OSError):
        info["git_commit"] = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
    return info


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """bench/results/<name>-<timestamp>.json (gitignored) and <name>-latest.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    text = json.dumps(payload, indent=2, sort_keys=False)
    path.write_text(text)
    (RESULTS_DIR / f"{name}-latest.json").write_text(text)
    return path


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats are printed by the caller."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def fmt(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"
