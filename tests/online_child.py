"""Child process for the online/hybrid mode tests (tests/logwriter/session/test_modes.py).

Usage: python online_child.py MODE RUN_ROOT RUN_ID SERVER

Modes:
  loop  init(mode="online"), print one JSON line {"dir", "syncer_pid"}, then log
        steps forever -- the parent kill -9's (or SIGTERMs) us when it likes.
  exit  init(mode="online"), log 50 steps and fall off the end without finish():
        atexit finishes the run and waits for the syncer; prints a JSON line
        first with the modules the SDK imported.
  fork  init(mode="online"), log 10 steps, fork; the child finishes the run it
        inherited (must be a no-op that leaves the parent's syncer alone) and
        exits; the parent logs 10 more steps, finishes, and prints a JSON report.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import logwriter

mode, root, run_id, server = sys.argv[1:5]
run = logwriter.init(project="modes", id=run_id, dir=root, mode="online", server=server,
                     capture_console=False, stats_interval=0, flush_interval=0.05)
pid = run.syncer_pid
assert pid is not None

if mode == "loop":
    print(json.dumps({"dir": run.run_dir, "syncer_pid": pid}), flush=True)
    step = 0
    while True:
        logwriter.log({"x": step * 0.5, "y": float(step)})
        step += 1
        if step % 20 == 0:
            time.sleep(0.002)
elif mode == "exit":
    for i in range(50):
        logwriter.log({"x": float(i)})
    loaded = [m for m in ("syncer", "httpx", "mlflow") if m in sys.modules]
    print(json.dumps({"dir": run.run_dir, "syncer_pid": pid, "imported": loaded}), flush=True)
elif mode == "fork":
    for i in range(10):
        logwriter.log({"x": float(i)})
    child = os.fork()
    if child == 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run.finish()
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        os._exit(0 if alive else 3)
    _, status = os.waitpid(child, 0)
    alive_after_child = os.waitstatus_to_exitcode(status) == 0
    for i in range(10, 20):
        logwriter.log({"x": float(i)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    print(json.dumps({
        "dir": run.run_dir,
        "syncer_alive_after_child": alive_after_child,
        "syncer_status": run._follower.proc.returncode if run._follower else None,
        "warnings": [str(w.message) for w in caught],
    }), flush=True)
else:
    raise SystemExit(f"unknown mode {mode}")
