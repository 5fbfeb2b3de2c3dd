"""`runwal ls` of a login node's runs directory: wall time and system calls per run.

Builds N finished runs (tests/syncutil.write_run: 200 steps of two metrics, one
segment each), then times ``runwal ls DIR --json`` with an empty cache (every
log read) and again with the cache of the first call (lscache.py), on the local
disk and, as root with sshd and sshfs, through a second mount of the same
directory (tests/sshmount.py: sshfs over a private sshd on loopback, as a
login node sees a compute node's runs; sshfs's defaults, so each listing and
each file read is a round trip, and a stat one at its first use). System
calls per run come from ``strace -c -f`` (when strace is installed), minus
those of ``ls`` of an empty directory.

    .venv/bin/python bench/ls_scale.py                 # 10,000 runs (~5 min)
    .venv/bin/python bench/ls_scale.py --runs 1000 --no-sshfs
    .venv/bin/python bench/ls_scale.py --no-strace     # wall times without strace's cost
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests"), str(REPO / "bench")]

from benchlib import markdown_table  # noqa: E402

from syncutil import training_records, write_run  # noqa: E402

PY = sys.executable
CALLS = ("newfstatat", "statx", "lstat", "stat", "openat", "getdents64", "read")


def build(root: Path, n: int) -> None:
    records = training_records(200)
    for i in range(n):
        write_run(root, f"r{i:06d}", records, project="ls-scale")


def ls_once(directory: Path, cache: Path, *, trace: Path | None) -> float:
    cmd = [PY, "-m", "syncer.cli", "ls", str(directory), "--json"]
    if trace is not None:
        cmd = ["strace", "-f", "-c", "-o", str(trace), *cmd]
    env = dict(os.environ, RUNWAL_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    return time.monotonic() - t0


def calls(trace: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in CALLS and re.fullmatch(r"\d+", parts[3]):
            out[parts[-1]] = int(parts[3])
    return out


def measure(where: str, directory: Path, empty: Path, n: int, tmp: Path, *, strace: bool
            ) -> list[dict[str, Any]]:
    strace = strace and shutil.which("strace") is not None
    base: dict[str, int] = {}
    if strace:
        ls_once(empty, tmp / "cache-empty", trace=tmp / "empty.trace")
        base = calls(tmp / "empty.trace")
    cache = tmp / f"cache-{where}"
    shutil.rmtree(cache, ignore_errors=True)
    rows = []
    for label in ("cold (no cache)", "warm (cache of the last ls)"):
        trace = tmp / f"{where}-{label[:4]}.trace" if strace else None
        wall = ls_once(directory, cache, trace=trace)
        got = calls(trace) if trace is not None else {}
        per = {k: (got.get(k, 0) - base.get(k, 0)) / n for k in CALLS}
        rows.append({"where": where, "cache": label, "runs": n, "wall_s": wall,
                     "stat_per_run": per["newfstatat"] + per["statx"] + per["lstat"]
                     + per["stat"], "open_per_run": per["openat"],
                     "getdents_per_run": per["getdents64"], "read_per_run": per["read"],
                     "strace": strace})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--no-sshfs", action="store_true", help="local disk only")
    ap.add_argument("--no-strace", action="store_true",
                    help="wall time only (strace slows every system call down)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="runwal-ls-") as t:
        tmp = Path(t)
        runs, empty = tmp / "data" / "runs", tmp / "empty"
        empty.mkdir()
        t0 = time.monotonic()
        build(runs, args.runs)
        print(f"built {args.runs} runs in {time.monotonic() - t0:.0f} s", flush=True)
        traced = not args.no_strace
        rows = measure("local disk", runs, empty, args.runs, tmp, strace=traced)
        if not args.no_sshfs:
            from sshmount import sshfs_mount

            with sshfs_mount(tmp / "ssh", tmp / "data") as mnt:
                rows += measure("sshfs (second mount)", mnt / "runs", empty, args.runs, tmp,
                                strace=traced)
    print()
    print(markdown_table(
        ("where", "cache", "runs", "wall s", "stat/run", "open/run", "getdents/run", "read/run"),
        [(r["where"], r["cache"], f"{r['runs']:,}", f"{r['wall_s']:.1f}",
          *(f"{r[k]:.1f}" if r["strace"] else "-" for k in
            ("stat_per_run", "open_per_run", "getdents_per_run", "read_per_run")))
         for r in rows]))


if __name__ == "__main__":
    main()
