#!/usr/bin/env python3
"""Caller-thread cost of rich values in ``log()``, and end-to-end throughput.

Each workload runs in a fresh run directory (offline, no console capture, no
stats) and times, with ``perf_counter_ns``, the whole statement the training
loop runs, constructor included:

* ``image``: ``run.log({"img": Image(arr)})``, arr a 256x256x3 uint8 array,
  different pixels every step (so every PNG is encoded and stored: identical
  images would be stored once);
* ``histogram``: ``run.log({"h": Histogram(values)})``, 10,000 float64;
* ``array``: ``run.log({"w": values})`` (a 10,000-element array: an
  automatic 32-bin histogram);
* ``scalars``: ``run.log({"loss": x})``, for reference.

Two paces: ``paced`` sleeps ``--pace-ms`` between calls (a training step
that takes that long: the writer keeps up, so the number is what the caller
pays), ``flat out`` calls back to back, so once the writer (PNG encoding)
falls a flush interval behind, log() waits for it (logwriter/wal/backlog.py) and the tail
shows that back-pressure. Throughput is calls per second from the first call
until finish() returned (every file and record written).

    .venv/bin/python bench/media_bench.py            # ~30 s
    .venv/bin/python bench/media_bench.py --n 2000 --pace-ms 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from benchlib import fmt, machine_info, markdown_table, percentile, write_results

import logwriter
from logwriter.media import Histogram, Image


def workload(kind: str, n: int, pace_s: float, root: Path) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    values = rng.normal(size=10_000)
    run = logwriter.init(project="bench", id=f"{kind}-{pace_s}", dir=root, mode="offline",
                         capture_console=False, stats_interval=0)
    times: list[float] = []
    t0 = time.perf_counter()
    for step in range(n):
        if kind == "image":
            base[0, 0, 0] = step % 256
            base[0, 0, 1] = step // 256 % 256
            start = time.perf_counter_ns()
            run.log({"img": Image(base)})
        elif kind == "histogram":
            start = time.perf_counter_ns()
            run.log({"h": Histogram(values)})
        elif kind == "array":
            start = time.perf_counter_ns()
            run.log({"w": values})
        else:
            start = time.perf_counter_ns()
            run.log({"loss": float(step)})
        times.append((time.perf_counter_ns() - start) / 1000.0)
        if pace_s:
            time.sleep(pace_s)
    run.finish()
    wall = time.perf_counter() - t0
    times.sort()
    stats = run.stats()
    media = Path(run.run_dir) / "files" / "media"
    files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    return {"kind": kind, "n": n, "pace_ms": pace_s * 1000, "p50_us": percentile(times, 50),
            "p99_us": percentile(times, 99), "max_us": times[-1], "wall_s": wall,
            "per_s": n / (wall - n * pace_s) if wall > n * pace_s else float("nan"),
            "calls_per_s": n / wall, "dropped": stats["dropped"], "files": len(files),
            "file_bytes": sum(p.stat().st_size for p in files)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="calls per workload")
    ap.add_argument("--pace-ms", type=float, default=10.0, help="sleep between paced calls")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("image", "histogram", "array", "scalars"):
            for pace in (args.pace_ms / 1000.0, 0.0):
                rows.append(workload(kind, args.n, pace, Path(tmp)))
    table = markdown_table(
        ["workload", "pace", "p50 µs/log", "p99 µs/log", "max µs", "calls/s (wall)",
         "wall s (incl. finish)", "media files", "MB stored", "dropped"],
        [[r["kind"], f"{r['pace_ms']:g} ms" if r["pace_ms"] else "flat out",
          fmt(r["p50_us"]), fmt(r["p99_us"]), fmt(r["max_us"]), fmt(r["calls_per_s"]),
          fmt(r["wall_s"], 2), r["files"], fmt(r["file_bytes"] / 1e6, 1), r["dropped"]]
         for r in rows])
    print(table)
    path = write_results("media_bench", {"machine": machine_info(), "args": vars(args),
                                         "rows": rows})
    print(f"\nraw numbers: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
