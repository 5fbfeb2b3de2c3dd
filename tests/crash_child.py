"""Child process for the logwriter process tests (crash, SIGTERM, exceptions, fork).

Usage: python crash_child.py MODE RUN_ROOT RUN_ID [SIDE_FILE]

Modes:
  loop     log steps forever; after each log() returns, append "step monotonic_time"
           to SIDE_FILE (flushed) -- the parent kill -9's us at a random moment.
  sigterm  log a few steps, print "ready", then keep logging until SIGTERM arrives.
  raise    log a few steps, then die of an uncaught exception (atexit -> failed).
  exit     log a few steps and fall off the end without finish() (atexit -> finished).
  fork     log, fork; the child calls the inherited run (must warn once and do
           nothing), then inits its own run; prints a JSON report of the child.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import logwriter

mode, root, run_id = sys.argv[1:4]
run = logwriter.init(project="proc", id=run_id, dir=root, capture_console=False,
                     stats_interval=0, flush_interval=0.05)

if mode == "loop":
    with open(sys.argv[4], "w", buffering=1) as side:
        step = 0
        while True:
            logwriter.log({"step_copy": step, "x": step * 0.5, "tag": f"s{step}"})
            side.write(f"{step} {time.monotonic()}\n")
            step += 1
            if step % 50 == 0:
                time.sleep(0.001)
elif mode == "sigterm":
    for i in range(5):
        logwriter.log({"i": i})
    print("ready", flush=True)
    i = 5
    while True:
        logwriter.log({"i": i})
        i += 1
        time.sleep(0.001)
elif mode == "raise":
    for i in range(5):
        logwriter.log({"i": i})
    raise RuntimeError("boom from crash_child")
elif mode == "exit":
    for i in range(5):
        logwriter.log({"i": i})
elif mode == "fork":
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
        child = logwriter.init(project="proc", id=run_id + "-child", dir=root,
                               capture_console=False, stats_interval=0)
        child.log({"child": 1})
        child.finish()
        report["child_dir"] = child.dir
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
else:
    raise SystemExit(f"unknown mode {mode}")
