"""SDK benchmark: what one log() call costs a training loop, runwal vs its peers.

Run by hand (not part of pytest)::

    bash bench/setup.sh && bench/.venv/bin/python bench/log_bench.py

For each contender (runwal offline, wandb offline, tensorboardX) and each
workload (20k steps x 10 scalars, 20k steps x 1 scalar, the same deterministic
floats for all), a fresh worker process logs every row and reports:

* µs per log() call, p50/p99 (``perf_counter_ns`` around each call; for
  tensorboardX one "call" is the ``add_scalar`` loop over a row's keys),
* wall time from the first call to the return of finish()/close(),
* bytes on disk per point (every file the contender wrote / points; also the
  data file alone: runwal's segments, wandb's ``.wandb``, the tfevents file),
* processes while logging (the worker plus its children) and the peak RSS of
  that tree, sampled from this process every 20 ms,
* CPU seconds of the whole tree (what the box pays, background helpers too).

Import+init is timed separately, in fresh ``python -c`` processes, so that one
contender's modules are never already imported for another.

Each worker runs alone: contenders never overlap. Results are printed as a
Markdown table and written to bench/results/log_bench-*.json (gitignored).
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
from typing import Any

import benchlib as bl  # bench/ is on sys.path: it is the script's directory

# tensorboardX-q1000: the same writer with max_queue=1000 instead of 10 (its
# default queue is a multiprocessing.Queue that blocks log calls when full).
CONTENDERS = ("runwal", "wandb", "tensorboardX", "tensorboardX-q1000")
DATA_GLOB = {
    "runwal": "*.seg",
    "wandb": "*.wandb",
    "tensorboardX": "events.out.tfevents*",
    "tensorboardX-q1000": "events.out.tfevents*",
}
CONFIG = {"lr": 3e-4, "batch_size": 64, "model": "resnet18", "optimizer": {"name": "adam"}}

# What a fresh interpreter runs to time import+init; finish happens after the clock stops.
INIT_SNIPPETS = {
    "runwal": (
        "import logwriter\n"
        "run = logwriter.init(project='bench', dir={dir!r}, config={config!r})\n"
    ),
    "wandb": (
        "import wandb\n"
        "run = wandb.init(project='bench', dir={dir!r}, config={config!r}, mode='offline')\n"
    ),
    "tensorboardX": (
        "from tensorboardX import SummaryWriter\n"
        "run = SummaryWriter(logdir={dir!r})\n"
    ),
}
INIT_CLOSE = {"runwal": "run.finish()", "wandb": "run.finish()", "tensorboardX": "run.close()"}


def contender_env(contender: str, scratch: Path) -> dict[str, str]:
    """Environment for a worker: wandb offline and silent, its caches kept off $HOME.

    Every worker runs in this checkout (a git work tree), so runwal and wandb
    both collect git facts at init, as they would in a user's project.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("RUNWAL_MODE", None)
    if contender == "wandb":
        for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
            env[name] = str(scratch / "wandb-home" / name.lower())
        env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    return env


# -- worker (runs in its own process) ----------------------------------------


def _open(contender: str, workdir: str) -> tuple[Any, Any]:
    """(log(row, step), close()) for one contender, its init done."""
    if contender == "runwal":
        import logwriter

        run = logwriter.init(project="bench", dir=workdir, config=CONFIG)
        return run.log, run.finish
    if contender == "wandb":
        import wandb

        wrun = wandb.init(project="bench", dir=workdir, config=CONFIG, mode="offline")
        return wrun.log, wrun.finish
    if contender.startswith("tensorboardX"):
        from tensorboardX import SummaryWriter

        queue = 1000 if contender == "tensorboardX-q1000" else 10  # 10: tensorboardX's default
        writer = SummaryWriter(logdir=workdir, max_queue=queue)
        add = writer.add_scalar

        def log(row: dict[str, float], step: int) -> None:
            for k, v in row.items():
                add(k, v, step)

        return log, writer.close
    raise SystemExit(f"unknown contender {contender!r}")


def worker(contender: str, keys: int, steps: int, workdir: str, out: str) -> None:
    """Log ``steps`` rows of ``keys`` scalars and write timings to ``out``."""
    import psutil

    rows = bl.workload_rows(steps, keys)
    t_init = time.perf_counter()
    log, close = _open(contender, workdir)
    init_s = time.perf_counter() - t_init
    ns = [0] * steps
    clock = time.perf_counter_ns
    mid = steps // 2
    nproc = 0
    t_start = time.perf_counter()
    for i, row in enumerate(rows):
        t0 = clock()
        log(row, step=i)
        ns[i] = clock() - t0
        if i == mid:  # outside the timed window
            nproc = 1 + len(psutil.Process().children(recursive=True))
    t_logged = time.perf_counter()
    close()
    t_end = time.perf_counter()
    ns.sort()
    result = {
        "init_in_process_s": init_s,
        "p50_us": bl.percentile(ns, 50) / 1e3,
        "p99_us": bl.percentile(ns, 99) / 1e3,
        "max_us": ns[-1] / 1e3,
        "mean_us": sum(ns) / len(ns) / 1e3,
        "log_loop_s": t_logged - t_start,
        "finish_s": t_end - t_logged,
        "wall_s": t_end - t_start,
        "processes_while_logging": nproc,
    }
    Path(out).write_text(json.dumps(result))


# -- parent ------------------------------------------------------------------


class TreeSampler:
    """Peak RSS, process count and CPU time of a process and its children."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self.max_procs = 0
        self.cpu: dict[int, float] = {}
        self.names: set[str] = set()

    def sample(self) -> None:
        ps = self._psutil
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except ps.Error:
            return
        rss = 0
        for p in procs:
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                    self.names.add(p.name())
            except ps.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        self.max_procs = max(self.max_procs, len(procs))


def run_worker(python: str, contender: str, keys: int, steps: int) -> dict[str, Any]:
    """One contender x workload in a fresh process, sampled from outside."""
    with tempfile.TemporaryDirectory(prefix=f"logbench-{contender}-") as tmp:
        scratch = Path(tmp)
        workdir = scratch / "out"
        workdir.mkdir()
        out = scratch / "result.json"
        cmd = [python, __file__, "--worker", contender, "--keys", str(keys),
               "--steps", str(steps), "--workdir", str(workdir), "--out", str(out)]
        proc = subprocess.Popen(cmd, env=contender_env(contender, scratch), cwd=bl.REPO_DIR,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        while proc.poll() is None:
            sampler.sample()
            time.sleep(0.02)
        tail = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{contender} worker failed ({proc.returncode}):\n{tail[-3000:]}")
        res: dict[str, Any] = json.loads(out.read_text())
        points = steps * keys
        all_bytes = bl.tree_bytes(workdir)
        data_bytes = bl.tree_bytes(workdir, DATA_GLOB[contender])
        res.update(
            contender=contender, keys=keys, steps=steps, points=points,
            bytes_total=all_bytes, bytes_data=data_bytes,
            bytes_per_point=all_bytes / points, data_bytes_per_point=data_bytes / points,
            peak_rss_mb=sampler.peak_rss / 2**20, max_procs_sampled=sampler.max_procs,
            cpu_s=sum(sampler.cpu.values()), process_names=sorted(sampler.names),
        )
        if contender == "runwal":
            res["points_read_back"] = count_runwal_points(workdir)
        return res


def count_runwal_points(workdir: Path) -> int:
    """History points in the run, read back with schema's reader (a sanity check)."""
    from schema.reader import Frame, iter_run_log
    from schema.records import RecordType

    n = 0
    for log_dir in workdir.glob("*/log"):
        for ev in iter_run_log(log_dir):
            if isinstance(ev, Frame):
                for rec in ev.records:
                    if rec.type == RecordType.HISTORY:
                        n += len(rec.body.get("data", {}))
    return n


def measure_init(python: str, contender: str, reps: int) -> dict[str, Any]:
    """Import+init wall time in fresh interpreters: median and min of ``reps``.

    One untimed run goes first so that every timed one finds the ``.pyc``
    files written (a source file edited since the last run would otherwise
    be compiled inside the first timing).
    """
    times = []
    for rep in range(reps + 1):
        with tempfile.TemporaryDirectory(prefix=f"initbench-{contender}-") as tmp:
            body = INIT_SNIPPETS[contender].format(dir=str(Path(tmp) / "out"), config=CONFIG)
            code = (
                "import time; t = time.perf_counter()\n" + body
                + "dt = time.perf_counter() - t\n" + INIT_CLOSE[contender] + "\n"
                + "print('INIT_S', dt)\n"
            )
            proc = subprocess.run([python, "-c", code], env=contender_env(contender, Path(tmp)),
                                  cwd=bl.REPO_DIR,
                                  capture_output=True, text=True, timeout=120)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("INIT_S")]
            if proc.returncode != 0 or not line:
                raise RuntimeError(f"{contender} init failed:\n{proc.stdout}\n{proc.stderr}")
            if rep > 0:
                times.append(float(line[-1].split()[1]))
    return {"init_ms_median": bl.median(times) * 1e3, "init_ms_min": min(times) * 1e3,
            "init_ms_all": [t * 1e3 for t in times]}


def targets(results: list[dict[str, Any]], inits: dict[str, dict[str, Any]]) -> list[str]:
    """runwal's targets from the brief, each as a 'met'/'MISSED' line."""
    by = {(r["contender"], r["keys"]): r for r in results}
    lines = []
    rw10, wb10 = by.get(("runwal", 10)), by.get(("wandb", 10))
    if rw10 and wb10:
        speedup = wb10["p50_us"] / rw10["p50_us"]
        ok = speedup >= 40
        lines.append(f"log() of 10 scalars p50: runwal {rw10['p50_us']:.2f} µs vs wandb "
                     f"{wb10['p50_us']:.1f} µs = {speedup:.0f}x (target >= 40x): "
                     f"{'met' if ok else 'MISSED'}")
    if rw10:
        bpp = rw10["bytes_per_point"]
        lines.append(f"bytes per point, 10 scalars, all files: {bpp:.2f} B (target <= 12): "
                     f"{'met' if bpp <= 12 else 'MISSED'}")
    if "runwal" in inits:
        ms = inits["runwal"]["init_ms_median"]
        lines.append(f"import+init median: {ms:.0f} ms (target <= 60): "
                     f"{'met' if ms <= 60 else 'MISSED'}")
    rws = [r for r in results if r["contender"] == "runwal"]
    if rws:
        n = max(r["processes_while_logging"] for r in rws)
        extra = sorted({p for r in rws for p in r["process_names"]} - {"python", "python3"})
        note = f"; short-lived children seen at init: {', '.join(extra)}" if extra else ""
        lines.append(f"processes while logging: {n} (target 1): "
                     f"{'met' if n == 1 else 'MISSED'}{note}")
    return lines


def report(results: list[dict[str, Any]], inits: dict[str, dict[str, Any]]) -> str:
    headers = ["contender", "workload", "p50 µs/log", "p99 µs/log", "wall s (incl. finish)",
               "finish s", "B/point (all files)", "B/point (data file)", "import+init ms",
               "procs while logging", "peak RSS MB", "CPU s"]
    rows = []
    for r in results:
        init = inits.get(r["contender"], {})
        rows.append([
            r["contender"], f"{r['steps'] // 1000}k x {r['keys']}", bl.fmt(r["p50_us"], 2),
            bl.fmt(r["p99_us"], 1), bl.fmt(r["wall_s"], 2), bl.fmt(r["finish_s"], 2),
            bl.fmt(r["bytes_per_point"], 1), bl.fmt(r["data_bytes_per_point"], 1),
            bl.fmt(init.get("init_ms_median"), 0),
            r["processes_while_logging"],
            bl.fmt(r["peak_rss_mb"], 0), bl.fmt(r["cpu_s"], 2),
        ])  # fmt: skip
    return bl.markdown_table(headers, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help="comma-separated subset of " + ", ".join(CONTENDERS))
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--keys", default="10,1", help="scalars per row, one workload each")
    ap.add_argument("--init-reps", type=int, default=5)
    ap.add_argument("--python", default=sys.executable, help="interpreter for the workers")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, int(args.keys), args.steps, args.workdir, args.out)
        return
    names = [c for c in args.contenders.split(",") if c]
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        ap.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    info = bl.machine_info()
    results, inits = [], {}
    for c in names:
        for keys in (int(k) for k in args.keys.split(",")):
            print(f"[log_bench] {c}: {args.steps} steps x {keys} scalars ...", file=sys.stderr)
            results.append(run_worker(args.python, c, keys, args.steps))
        if args.init_reps > 0 and c in INIT_SNIPPETS:
            print(f"[log_bench] {c}: import+init x{args.init_reps} ...", file=sys.stderr)
            inits[c] = measure_init(args.python, c, args.init_reps)
    info["loadavg_1m_end"] = os.getloadavg()[0]
    table = report(results, inits)
    checks = targets(results, inits)
    print(table)
    print()
    for line in checks:
        print("- " + line)
    path = bl.write_results("log_bench", {"machine": info, "results": results, "init": inits,
                                          "targets": checks})
    print(f"\nload average {info['loadavg_1m']:.2f} -> {info['loadavg_1m_end']:.2f}; "
          f"results in {path}")


if __name__ == "__main__":
    main()
