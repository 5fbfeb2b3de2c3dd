"""``use_artifact("data:latest")`` in a runs directory of many runs: the first call's time.

Builds N finished runs of 200 steps (tests/syncutil.write_run) and one that logged
the artifact, then times, in a fresh process, ``init()`` + ``use_artifact()`` +
``finish()`` (median of 3). Only runs that logged an artifact are read
(their ``files/artifacts/``); before that, every run's log was.

    .venv/bin/python bench/artifact_scan.py              # 10,000 runs (~1 min)
    .venv/bin/python bench/artifact_scan.py --runs 1000 --src OTHER_CHECKOUT/src
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from syncutil import training_records, write_run  # noqa: E402

PY = sys.executable
USE = """
import sys, logwriter
with logwriter.init(project="p", dir=sys.argv[1], capture_console=False, stats_interval=0) as run:
    art = run.use_artifact("data:latest")
    assert art.version == "v0", art.version
"""
PRODUCE = """
import sys, logwriter
with logwriter.init(project="p", dir=sys.argv[1], id="producer", capture_console=False,
                    stats_interval=0) as run:
    art = logwriter.Artifact("data", type="dataset")
    art.add_reference("s3://bucket/data.csv")
    run.log_artifact(art)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--src", default=str(REPO / "src"), help="the runwal source to time")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=args.src)
    with tempfile.TemporaryDirectory(prefix="runwal-artifact-scan-") as tmp:
        runs = Path(tmp) / "runs"
        records = training_records(200)
        for i in range(args.runs):
            write_run(runs, f"r{i:06d}", records)
        subprocess.run([PY, "-c", PRODUCE, str(runs)], env=env, check=True)
        times = []
        for _ in range(3):
            t0 = time.monotonic()
            subprocess.run([PY, "-c", USE, str(runs)], env=env, check=True)
            times.append(time.monotonic() - t0)
        each = ", ".join(f"{t:.2f}" for t in times)
        print(f"{args.runs:,} runs, source {args.src}: use_artifact in a fresh process "
              f"{statistics.median(times):.2f} s median (runs {each})")


if __name__ == "__main__":
    main()
