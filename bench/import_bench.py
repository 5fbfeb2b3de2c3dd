"""Points/s of ``runwal import``: a 200k-point TensorBoard event file and a 200k-point wandb
offline run (20,000 steps of 10 scalars each, written here by tensorboardX and by the
real wandb in offline mode), each imported by the ``runwal`` command in a fresh process.

    .venv/bin/python bench/import_bench.py [--steps 20000] [--keys 10]

The time is the whole command (interpreter start, the importer process it starts,
``python -m logwriter.importers``: reading, decoding, writing the run dir through the
SDK's writer, fsync at the end); points = metric values imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import KEY_NAMES, machine_info, markdown_table, write_results

RUNWAL = Path(sys.executable).with_name("runwal")

WANDB_SCRIPT = """
import sys, json, wandb
rows = json.load(open(sys.argv[1]))
run = wandb.init(project="bench-import")
for row in rows:
    wandb.log(row)
run.finish()
"""


def rows(steps: int, keys: int) -> list[dict[str, float]]:
    return [{KEY_NAMES[k]: (s % 997) / 997 + k for k in range(keys)} for s in range(steps)]


def write_tensorboard(where: Path, steps: int, keys: int) -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(where), max_queue=1000, flush_secs=3600)
    for step, row in enumerate(rows(steps, keys)):
        for k, v in row.items():
            w.add_scalar(k, v, step)
    w.close()


def write_wandb(where: Path, steps: int, keys: int) -> Path:
    where.mkdir(parents=True)
    (where / "rows.json").write_text(json.dumps(rows(steps, keys)))
    (where / "w.py").write_text(WANDB_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_DIR=str(where), WANDB_SILENT="true")
    subprocess.run([sys.executable, "w.py", "rows.json"], cwd=where, env=env, check=True,
                   timeout=1800)
    (run_dir,) = (where / "wandb").glob("offline-run-*")
    return run_dir


def import_once(kind: str, source: Path, into: Path) -> tuple[float, dict[str, object]]:
    cmd = [str(RUNWAL)] if RUNWAL.exists() else [sys.executable, "-m", "syncer.cli"]
    t0 = time.perf_counter()
    proc = subprocess.run([*cmd, "import", kind, str(source), "--into", str(into), "--json"],
                          capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"runwal import {kind} failed: {proc.stderr}")
    (run,) = json.loads(proc.stdout)["runs"]
    return seconds, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--keys", type=int, default=10)
    args = ap.parse_args()
    points = args.steps * args.keys
    results = []
    with tempfile.TemporaryDirectory(prefix="runwal-import-bench-") as tmp:
        root = Path(tmp)
        sources = []
        t0 = time.perf_counter()
        write_tensorboard(root / "tb" / "run", args.steps, args.keys)
        print(f"event file written in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        sources.append(("tensorboard", root / "tb", sum(
            f.stat().st_size for f in (root / "tb" / "run").iterdir())))
        t0 = time.perf_counter()
        wb = write_wandb(root / "wb", args.steps, args.keys)
        print(f"wandb run written in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        sources.append(("wandb", wb, sum(f.stat().st_size for f in wb.glob("run-*.wandb"))))
        for kind, source, size in sources:
            seconds, run = import_once(kind, source, root / f"runs-{kind}")
            again, rerun = import_once(kind, source, root / f"runs-{kind}")
            assert run["points"] == points, run
            assert rerun["status"] == "unchanged", rerun
            results.append({"source": kind, "points": run["points"], "records": run["records"],
                            "source_mb": size / 2**20, "seconds": seconds,
                            "points_per_s": run["points"] / seconds, "reimport_s": again})
    print(markdown_table(
        ("source", "points", "records", "source MiB", "import s", "points/s", "re-import s"),
        [(r["source"], f"{r['points']:,}", f"{r['records']:,}", f"{r['source_mb']:.1f}",
          f"{r['seconds']:.2f}", f"{r['points_per_s']:,.0f}", f"{r['reimport_s']:.2f}")
         for r in results]))
    path = write_results("import_bench", {"machine": machine_info(), "steps": args.steps,
                                          "keys": args.keys, "results": results})
    print(f"\nraw numbers: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
