"""One process of a distributed job logging to a shared run (the shared-run tests' child).

Usage: python shared_child.py RUNS RUN_ID RANK WORLD STEPS [END] [key=value ...]

Sets RANK/WORLD_SIZE as a launcher would, ``init(shared=True)``, logs STEPS rows
``{"loss": rank + step / 1000}``, sets config ``lr`` and summary ``best``, prints a
line, then ends as END says:

  finish   finish() (the default)
  fail     raise an exception (the run's exit hook records ``failed``)
  kill     SIGKILL itself after the rows (no EXIT: a crashed rank)
  hold     print "holding", then wait until the file ``hold=PATH`` names exists, finish

Extra ``key=value`` arguments go to init() (``label``, ``primary``, ``mode``,
``server``, ``stats_interval``), values parsed as JSON when they parse.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def main() -> None:
    runs, run_id, rank, world, steps = sys.argv[1:6]
    end = sys.argv[6] if len(sys.argv) > 6 else "finish"
    extra: dict[str, object] = {}
    for arg in sys.argv[7:]:
        key, _, raw = arg.partition("=")
        try:
            extra[key] = json.loads(raw)
        except ValueError:
            extra[key] = raw
    hold = extra.pop("hold", None)
    os.environ["RANK"], os.environ["WORLD_SIZE"] = rank, world
    import logwriter

    extra.setdefault("stats_interval", 0)
    run = logwriter.init(project="shared", id=run_id, dir=runs, shared=True, **extra)  # type: ignore[arg-type]
    r = int(rank)
    run.config.update({"lr": 0.1 * (r + 1)})
    for i in range(int(steps)):
        run.log({"loss": r + i / 1000}, step=i)
    run.summary["best"] = r
    print(f"rank {r} logged {steps} rows", flush=True)
    if end == "fail":
        raise RuntimeError(f"rank {r} fails on purpose")
    if end == "kill":
        time.sleep(0.3)  # past a flush interval: the rows are on disk
        os.kill(os.getpid(), signal.SIGKILL)
    if end == "hold":
        print("holding", flush=True)
        while not os.path.exists(str(hold)):
            time.sleep(0.05)
    run.finish()


if __name__ == "__main__":
    main()
