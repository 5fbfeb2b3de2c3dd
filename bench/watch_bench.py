"""watch(model) overhead per training step, and log_artifact() of a 100 MB file.

Run by hand (never by pytest)::

    .venv/bin/python bench/watch_bench.py              # ~1 min on 2 vCPUs
    .venv/bin/python bench/watch_bench.py --steps 2000 --repeats 5

watch: a small MLP (784-256-256-10, batch 64, SGD) trained for ``--steps``
steps on CPU with one torch thread, ``run.log({"loss": ...})`` every step,
without watch and with ``watch(model, log="all", log_freq=100)``, the two
interleaved ``--repeats`` times in one process (the median is reported).
ms/step is the wall time of the loop over steps; the logged steps (every
100th) are also timed apart, since that is where the work is.

log_artifact: a file of 100 MB of random bytes, logged into a fresh run each
time: ``add_file`` (mutable: copied and hashed in one pass, fsynced) and
``add_file(policy="immutable")`` (hard link, then one hashing read), and
``use_artifact(...).download()`` (a verified copy out). Median of 3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine_info, markdown_table, write_results

import logwriter

QUIET = {"capture_console": False, "stats_interval": 0}


def train(runs: Path, steps: int, watch: bool) -> tuple[float, list[float], list[float]]:
    """ms/step over the loop, per-step ms of unlogged and of logged steps."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    run = logwriter.init(project="bench", dir=runs, **QUIET)  # type: ignore[arg-type]
    if watch:
        run.watch(model, log="all", log_freq=100)
    plain: list[float] = []
    logged: list[float] = []
    t0 = time.perf_counter()
    for i in range(steps):
        s = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})
        ms = (time.perf_counter() - s) * 1e3
        (logged if (i + 1) % 100 == 0 else plain).append(ms)
    total = (time.perf_counter() - t0) * 1e3 / steps
    run.finish()
    return total, plain, logged


def artifact_times(tmp: Path, mb: int) -> dict[str, float]:
    src = tmp / "big.bin"
    with open(src, "wb") as fh:
        for _ in range(mb):
            fh.write(os.urandom(1 << 20))
    out: dict[str, list[float]] = {"mutable": [], "immutable": [], "download": []}
    for i in range(3):
        runs = tmp / f"runs{i}"
        for policy in ("mutable", "immutable"):
            run = logwriter.init(project="bench", dir=runs, **QUIET)  # type: ignore[arg-type]
            art = logwriter.Artifact(f"big-{policy}", "dataset")
            art.add_file(src, policy=policy)
            s = time.perf_counter()
            run.log_artifact(art)
            out[policy].append(time.perf_counter() - s)
            run.finish()
        run = logwriter.init(project="bench", dir=runs, **QUIET)  # type: ignore[arg-type]
        s = time.perf_counter()
        run.use_artifact("big-mutable:latest").download(tmp / f"dl{i}")
        out["download"].append(time.perf_counter() - s)
        run.finish()
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mb", type=int, default=100)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    results: dict[str, list[tuple[float, list[float], list[float]]]] = {"none": [], "all": []}
    with tempfile.TemporaryDirectory(prefix="watch-bench-") as tmp:
        train(Path(tmp) / "warm", 50, True)  # imports, allocator warm-up
        for r in range(args.repeats):
            for mode in ("none", "all"):
                results[mode].append(train(Path(tmp) / f"{mode}{r}", args.steps, mode == "all"))
        art = artifact_times(Path(tmp), args.mb)
    rows = []
    summary: dict[str, dict[str, float]] = {}
    for mode, label in (("none", "no watch"), ("all", 'watch(log="all", log_freq=100)')):
        per_step = statistics.median(t for t, _, _ in results[mode])
        plain = statistics.median(statistics.median(p) for _, p, _ in results[mode])
        logged = statistics.median(statistics.median(lg) for _, _, lg in results[mode])
        summary[mode] = {"ms_per_step": per_step, "plain_p50": plain, "logged_p50": logged}
        rows.append([label, f"{per_step:.3f}", f"{plain:.3f}", f"{logged:.3f}"])
    base = summary["none"]["ms_per_step"]
    over = summary["all"]["ms_per_step"] - base
    # The loop mean is at the mercy of other processes on a shared machine; the
    # medians are not: per-step cost of the hooks plus one logged step's extra / 100.
    hooks = summary["all"]["plain_p50"] - summary["none"]["plain_p50"]
    extra = summary["all"]["logged_p50"] - summary["none"]["plain_p50"]
    amortised = hooks + extra / 100
    print(f"## watch: {args.steps} steps, MLP 784-256-256-10, batch 64, CPU, 1 thread, "
          f"median of {args.repeats}\n")
    print(markdown_table(["", "ms/step (loop)", "p50 ms, unlogged steps",
                          "p50 ms, every 100th step"], rows))
    print(f"\noverhead, loop means: {over:+.3f} ms/step ({100 * over / base:+.1f} %); from the "
          f"medians: {hooks:+.3f} ms on an unlogged step, {extra:+.3f} ms on a logged one, "
          f"{amortised:+.3f} ms/step amortised "
          f"({100 * amortised / summary['none']['plain_p50']:+.1f} %)\n")
    print(f"## log_artifact of a {args.mb} MB file (median of 3)\n")
    print(markdown_table(["operation", "s"], [
        ['log_artifact, add_file (mutable: copy + hash + fsync)', f"{art['mutable']:.3f}"],
        ['log_artifact, add_file(policy="immutable") (link + hash)', f"{art['immutable']:.3f}"],
        ["use_artifact(...).download() (verified copy)", f"{art['download']:.3f}"],
    ]))
    path = write_results("watch_bench", {"machine": machine_info(), "args": vars(args),
                                         "watch": summary, "amortised_ms": amortised,
                                         "artifact_s": art})
    print(f"\nraw numbers: {path}")


if __name__ == "__main__":
    main()
