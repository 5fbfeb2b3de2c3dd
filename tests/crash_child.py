"""Child process for the logwriter process tests (crash, SIGTERM, exceptions, fork).

Usage: python crash_child.py MODE RUN_ROOT RUN_ID [ARG]

Modes:
  loop     log steps forever; after each log() returns, append "step monotonic_time"
           to ARG, the side file (flushed) -- the parent kill -9's us at a random moment.
  paced    like loop at RATE rows/s (ARG is SIDE:RATE; RATE 0 = as fast as it can), with
           the default flush interval and fsync policy: the power-cut tests' child.
  flood    like loop at full speed (no pauses, rows of 13 values, the default flush
           interval); the side file is flushed every 256 steps, so what it lists is
           a subset of what log() acknowledged.
  sigterm  log a few steps, print "ready", then keep logging until SIGTERM arrives.
  raise    log a few steps, then die of an uncaught exception (atexit -> failed).
  exit     log a few steps and fall off the end without finish() (atexit -> finished).
  fork     log, fork; the child calls the inherited run (must warn once and do
           nothing), then inits its own run; prints a JSON report of the child.
  writer   wait for the file ARG to exist, then init(id=RUN_ID, resume="allow") and
           log 3000 rows tagged with our pid; prints {"ok": true, "pid": ...} or
           {"ok": false, "error": ...} when init() refused.
  family   threads, a forked child and a spawned child all try to log to RUN_ID;
           prints a JSON report (what each got).
  bigrows  log ARG rows of 256 KiB strings as fast as it can, finish; prints a JSON
           report with the peak RSS.
  rich     log an image every step, save() a 64 KiB file every 5 and log it as an
           artifact every 7, appending "step time" to ARG after each step (the
           power-cut test of files written beside the log).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
import warnings

import logwriter

QUIET = {"capture_console": False, "stats_interval": 0}


def _init(root: str, run_id: str, **kw: object) -> logwriter.Run:
    kw.setdefault("flush_interval", 0.05)
    return logwriter.init(project="proc", id=run_id, dir=root, **QUIET, **kw)  # type: ignore[arg-type]


def loop(root: str, run_id: str, side_path: str) -> None:
    _init(root, run_id)
    with open(side_path, "w", buffering=1) as side:
        step = 0
        while True:
            logwriter.log({"step_copy": step, "x": step * 0.5, "tag": f"s{step}"})
            side.write(f"{step} {time.monotonic()}\n")
            step += 1
            if step % 50 == 0:
                time.sleep(0.001)


def paced(root: str, run_id: str, arg: str) -> None:
    side_path, rate = arg.rsplit(":", 1)
    gap = 1.0 / float(rate) if float(rate) > 0 else 0.0
    _init(root, run_id, flush_interval=None)
    with open(side_path, "w", buffering=1) as side:
        step, t0 = 0, time.monotonic()
        while True:
            logwriter.log({"step_copy": step, "x": step * 0.5})
            side.write(f"{step} {time.monotonic()}\n")
            step += 1
            if gap:
                time.sleep(max(0.0, t0 + step * gap - time.monotonic()))


def flood(root: str, run_id: str, side_path: str) -> None:
    _init(root, run_id, flush_interval=None)
    extra = {f"k{i}": i * 0.1 for i in range(10)}
    with open(side_path, "w") as side:
        step = 0
        while True:
            row = {"step_copy": step, "x": step * 0.5, "tag": f"s{step}"}
            row.update(extra)
            logwriter.log(row)
            side.write(f"{step} {time.monotonic()}\n")
            step += 1
            if step % 256 == 0:
                side.flush()


def sigterm(root: str, run_id: str) -> None:
    _init(root, run_id)
    for i in range(5):
        logwriter.log({"i": i})
    print("ready", flush=True)
    i = 5
    while True:
        logwriter.log({"i": i})
        i += 1
        time.sleep(0.001)


def few_then(root: str, run_id: str, end: str) -> None:
    _init(root, run_id)
    for i in range(5):
        logwriter.log({"i": i})
    if end == "raise":
        raise RuntimeError("boom from crash_child")


def fork(root: str, run_id: str) -> None:
    run = _init(root, run_id)
    for i in range(10):
        logwriter.log({"parent": i})
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        report: dict[str, object] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run.log({"from_child": 1})
            run.log({"from_child": 2})
            run.config.update({"child": True})
            run.finish()
        report["warnings"] = [(type(w.message).__name__, str(w.message)) for w in caught]
        child = logwriter.init(project="proc", id=run_id + "-child", dir=root, **QUIET)
        child.log({"child": 1})
        child.finish()
        report["child_dir"] = child.run_dir
        os.write(w, json.dumps(report).encode())
        os.close(w)
        os._exit(0)
    os.close(w)
    chunks = []
    while data := os.read(r, 65536):
        chunks.append(data)
    os.waitpid(pid, 0)
    for i in range(10, 20):
        logwriter.log({"parent": i})
    logwriter.finish()
    print(b"".join(chunks).decode(), flush=True)


def writer(root: str, run_id: str, go: str) -> None:
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        run = logwriter.init(project="proc", id=run_id, dir=root, resume="allow", **QUIET)
    except logwriter.errors.RunDirError as exc:
        print(json.dumps({"ok": False, "pid": os.getpid(), "error": str(exc)}), flush=True)
        return
    for i in range(3000):
        run.log({"pid": os.getpid(), "i": i})
        if i % 100 == 0:
            time.sleep(0.01)  # about 0.3 s of logging: the other process tries meanwhile
    run.finish()
    print(json.dumps({"ok": True, "pid": os.getpid(), "logged": 3000}), flush=True)


def spawned(root: str, run_id: str, out: object) -> None:
    """A multiprocessing 'spawn' child: try the parent's run, then log to its own."""
    report: dict[str, object] = {}
    try:
        logwriter.init(project="proc", id=run_id, dir=root, resume="allow", **QUIET)
        report["joined"] = True
    except logwriter.errors.RunDirError as exc:
        report["error"] = str(exc)
    own = logwriter.init(project="proc", id=f"{run_id}-spawn", group=run_id, dir=root, **QUIET)
    for i in range(500):
        own.log({"spawned": i})
    own.finish()
    report["own_run"] = own.id
    out.put(report)  # type: ignore[attr-defined]


def family(root: str, run_id: str) -> None:
    import multiprocessing as mp

    run = _init(root, run_id)

    def rows(tag: int) -> None:
        for i in range(2000):
            run.log({f"t{tag}": i})

    threads = [threading.Thread(target=rows, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=spawned, args=(root, run_id, queue))
    child.start()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(100):
                run.log({"forked": i})
        os.write(w, json.dumps([type(c.message).__name__ for c in caught]).encode())
        os._exit(0)
    os.close(w)
    forked = json.loads(os.read(r, 65536).decode() or "[]")
    os.waitpid(pid, 0)
    report = queue.get(timeout=120)
    child.join(60)
    for t in threads:
        t.join()
    run.finish()
    print(json.dumps({"forked_warnings": forked, "spawned": report,
                      "stats": {k: run.stats()[k] for k in ("written", "dropped")}}), flush=True)


def _peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not count the parent
    we were forked from before exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bigrows(root: str, run_id: str, count: str) -> None:
    run = _init(root, run_id, flush_interval=None)
    base = os.urandom(128 * 1024).hex()  # 256 KiB of text zstd cannot squeeze much
    rss0 = _peak_rss_mib()
    t0 = time.monotonic()
    n = int(count)
    for i in range(n):
        run.log({"i": i, "blob": f"{i:08d}" + base[8:]})
    run.finish()
    stats = run.stats()
    print(json.dumps({
        "logged": n, "written": stats["written"], "dropped": stats["dropped"],
        "rss0_mib": rss0, "maxrss_mib": _peak_rss_mib(),
        "seconds": time.monotonic() - t0,
    }), flush=True)


def rich(root: str, run_id: str, side_path: str) -> None:
    """Images, a save() and an artifact every few steps, each step acknowledged to the
    side file; the parent cuts the power under it (a new PNG each step: new files)."""
    import numpy as np

    run = _init(root, run_id, flush_interval=None)
    rng = np.random.default_rng(0)
    with open(side_path, "w", buffering=1) as side:
        step = 0
        while True:
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            run.log({"img": logwriter.Image(pixels), "x": step * 0.5}, step=step)
            if step % 5 == 0:  # a new file each time: a save() of "now" may hard-link it
                src = os.path.join(os.path.dirname(side_path), f"{run_id}-{step}.ckpt")
                with open(src, "wb") as fh:
                    fh.write(os.urandom(64 * 1024))
                run.save(src, base_path=os.path.dirname(src), policy="now")
            if step % 7 == 0:
                art = logwriter.Artifact(f"data{step}", type="dataset")
                art.add_file(src)  # the latest checkpoint, step % 5 == 0 came first
                run.log_artifact(art)
            side.write(f"{step} {time.monotonic()}\n")
            step += 1
            time.sleep(0.01)


def main() -> None:
    mode, root, run_id, *rest = sys.argv[1:]
    if mode == "loop":
        loop(root, run_id, rest[0])
    elif mode == "paced":
        paced(root, run_id, rest[0])
    elif mode == "flood":
        flood(root, run_id, rest[0])
    elif mode == "sigterm":
        sigterm(root, run_id)
    elif mode in ("raise", "exit"):
        few_then(root, run_id, mode)
    elif mode == "fork":
        fork(root, run_id)
    elif mode == "writer":
        writer(root, run_id, rest[0])
    elif mode == "family":
        family(root, run_id)
    elif mode == "bigrows":
        bigrows(root, run_id, rest[0])
    elif mode == "rich":
        rich(root, run_id, rest[0])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
