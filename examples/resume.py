"""Resume after preemption: the job is restarted and continues the same run.

Slurm and Kubernetes send SIGTERM before they kill a job; runwal flushes and
records the run as ``preempted``. The restarted job calls ``init`` with the
same ``id=`` and ``resume=True``: a new segment is opened next to the old ones
(an old, possibly torn, segment is never appended to), the step counter and
config continue, and ``runwal sync`` sends the whole run as one MLflow run.

    python examples/resume.py --dir ./runs --id my-job-42            # first attempt, "preempted"
    python examples/resume.py --dir ./runs --id my-job-42 --finish   # the restart
"""

from __future__ import annotations

import argparse
import os
import signal

import logwriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None, help="runs directory (default ./runs)")
    parser.add_argument("--id", default="resume-example")
    parser.add_argument("--steps", type=int, default=100, help="steps per attempt")
    parser.add_argument("--finish", action="store_true", help="this attempt runs to the end")
    args = parser.parse_args()

    run = logwriter.init(project="runwal-resume", id=args.id, dir=args.dir, resume=True,
                         config={"lr": 0.01, "total_steps": 2 * args.steps})  # fmt: skip
    start = run.step  # 0 for a new run, the next step after a resume
    print(f"run {run.id}: starting at step {start} ({'resumed' if start else 'new'})")
    for step in range(start, start + args.steps):
        run.log({"loss": 1.0 / (1 + step)}, step=step)
    if args.finish:
        run.finish()
        print(f"run {run.id}: finished at step {start + args.steps - 1}")
    else:
        # What the scheduler does to a preempted job: runwal's handler flushes,
        # records `preempted`, then the default action ends the process.
        print(f"run {run.id}: preempted at step {start + args.steps - 1}", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main()
