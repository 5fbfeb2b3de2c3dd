"""Peak RSS of ``runwal sync`` on a run with a large backlog past its checkpoint.

Run by hand (not part of pytest)::

    .venv/bin/python bench/sync_memory.py                     # 2M points, --dry-run + 60 s of sync
    .venv/bin/python bench/sync_memory.py --points 200000 --seconds 20   # while developing

A run of ``--points`` history records (one metric each, the worst case for
records per byte), written segment by segment with the schema API (no SDK:
the bench process never holds the whole run), no EXIT (a live run that a
syncd or ``runwal sync`` reaches late). Then, each in a fresh process whose
``VmHWM`` (peak RSS) is read from /proc every 0.1 s:

1. ``runwal sync RUN --dry-run`` to the end (reads and decodes everything,
   sends nothing);
2. ``runwal sync RUN --to <loopback MLflow>`` for ``--seconds`` (2M points at
   the server's ~5k points/s would take minutes; the backlog is what a pass
   holds, so the first minute shows it), then SIGTERM; the checkpoint's seq
   says how far it got.

Results: a table on stdout and bench/results/sync_memory-*.json.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl  # bench/ is on sys.path: it is the script's directory

from schema.frame import split_frames
from schema.layout import RunDir
from schema.records import RecordType, pack_record
from schema.segment import SegmentHeader, segment_name
from syncer.engine import checkpoint
from syncer.sinks.mlflow.loopback_server import LocalMlflowServer
from syncer.sinks.mlflow.sink import sink_name_for

SEGMENT_BYTES = 64 * 1024 * 1024  # the SDK's rotation size (logwriter.wal.appender)
CHUNK = 10_000


def write_run(root: Path, points: int) -> Path:
    """A run dir of one RUN record and ``points`` history records, no EXIT."""
    run = root / "bigrun"
    (run / "log").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps(
        {"run_id": "bigrun", "project": "sync-memory", "name": "bigrun", "created": 1.7e9,
         "format": 1}))
    seq, fh, size = 0, None, 0

    def rotate(base: int) -> Any:
        head = SegmentHeader.new(base)
        f = open(run / "log" / segment_name(base), "wb")  # noqa: SIM115
        f.write(head.encode())
        return f, head.seed

    fh, seed = rotate(0)
    size = 0
    first = [pack_record(RecordType.RUN, 1.7e9, {"user": "bench", "argv": ["train.py"]})]
    for start in range(0, points, CHUNK):
        packed = first + [
            pack_record(RecordType.HISTORY, 1.7e9 + i * 0.01,
                        {"step": i, "data": {"train/loss": 2.5 * math.exp(-i / 5e5) + i % 7e-3}})
            for i in range(start, min(points, start + CHUNK))]
        first = []
        for frame in split_frames(packed, seq, seed):
            fh.write(frame)
            size += len(frame)
        seq += len(packed)
        if size >= SEGMENT_BYTES:
            fh.close()
            fh, seed = rotate(seq)
            size = 0
    fh.close()
    return run


def watch(cmd: list[str], seconds: float | None) -> dict[str, Any]:
    """Run ``cmd``; its peak RSS (VmHWM) and wall time; SIGTERM after ``seconds``."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, at = 0.0, 0.0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        hwm = int(line.split()[1]) / 1024
                        if hwm > peak:
                            peak, at = hwm, time.monotonic() - t0
        except OSError:
            break
        if seconds is not None and time.monotonic() - t0 > seconds:
            proc.send_signal(signal.SIGTERM)
            seconds = None
        time.sleep(0.1)
    out, err = proc.communicate(timeout=120)
    return {"peak_rss_mb": peak, "peak_at_s": at, "wall_s": time.monotonic() - t0,
            "rc": proc.returncode, "stdout": out[-2000:], "stderr": err[-2000:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=2_000_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the real sync runs")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    say = lambda msg: print(f"[sync_memory] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    runwal = [args.python, "-m", "syncer.cli"]
    res: dict[str, Any] = {"machine": bl.machine_info(), "points": args.points}
    with tempfile.TemporaryDirectory(prefix="syncmem-") as tmp_s:
        tmp = Path(tmp_s)
        say(f"writing a run of {args.points} points ...")
        t0 = time.perf_counter()
        run = write_run(tmp / "runs", args.points)
        res["write_s"] = time.perf_counter() - t0
        res["log_bytes"] = sum(p.stat().st_size for p in RunDir(run).segments())
        say("runwal sync --dry-run ...")
        res["dry_run"] = watch([*runwal, "sync", str(run), "--dry-run", "--json"], None)
        with LocalMlflowServer(tmp / "server") as srv:
            say(f"runwal sync for {args.seconds:.0f} s ...")
            res["sync"] = watch([*runwal, "sync", str(run), "--to", srv.uri, "--json"],
                                args.seconds)
            ckpt = checkpoint.load(RunDir(run), sink_name_for(srv.uri))
            res["sync"]["acked_seq"] = ckpt.seq if ckpt else -1
    print(report(res))
    print(f"\nresults in {bl.write_results('sync_memory', res)}")


def report(res: dict[str, Any]) -> str:
    d, s = res["dry_run"], res["sync"]
    return "\n".join([
        f"| {res['points']:,} points ({res['log_bytes'] / 2**20:.1f} MiB of log) "
        "| peak RSS | peak reached at | wall | |", "|---|---:|---:|---:|---|",
        f"| runwal sync --dry-run | {d['peak_rss_mb']:.0f} MB | {d['peak_at_s']:.1f} s "
        f"| {d['wall_s']:.1f} s | rc {d['rc']} |",
        f"| runwal sync --to loopback (stopped) | {s['peak_rss_mb']:.0f} MB "
        f"| {s['peak_at_s']:.1f} s | {s['wall_s']:.1f} s | acked to seq {s['acked_seq']:,} |",
    ])


if __name__ == "__main__":
    main()
