"""A power cut under `runwal sync`: checkpoints old or new, and the next sync exact.

The run dir sits on tests/powercutfs.py (durable at mount time); `runwal sync`
replays it, writing a checkpoint after each acknowledged batch, and is killed -9
and the power cut at a random moment. On the disk after the cut, sync/<sink>.json
is there and whole once one was written before the kill (never missing, empty or
torn: sync/ made durably, tmp + fsync + rename + directory fsync), and a sync
from that disk leaves the server with one run and every row once, whichever
checkpoint survived.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from powercut import needs_fuse, powercut_mount
from syncer.sinks.mlflow.sink import sink_name_for
from syncutil import client, run_with, runs_tagged, training_records, write_run


@needs_fuse
def test_a_power_cut_during_sync_leaves_a_whole_checkpoint_and_an_exact_resync(
    tmp_path: Path, mlflow_uri: str
) -> None:
    rng = random.Random(5)
    keys = ("m0", "m1", "m2")
    for trial in range(2):
        base = tmp_path / f"t{trial}"
        run_id = f"cutsync{trial}"
        write_run(base / "backing" / "runs", run_id, training_records(10_000, keys),
                  project="p-cut")
        with powercut_mount(base, backing=base / "backing") as fs:
            proc = subprocess.Popen([sys.executable, "-m", "syncer.cli", "sync",
                                     str(fs.mount / "runs" / run_id), "--to", mlflow_uri],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            live = fs.mount / "runs" / run_id / "sync" / f"{sink_name_for(mlflow_uri)}.json"
            deadline = time.monotonic() + 60
            while not live.exists():  # its first checkpoint: the server run is known
                assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.2, 2.5))
            proc.kill()
            proc.wait()
            image = fs.cut()
        run_dir = image / "runs" / run_id
        ckpt = run_dir / "sync" / f"{sink_name_for(mlflow_uri)}.json"
        body = json.loads(ckpt.read_text())  # there (sync/ too) and whole, or this raises
        assert body["seq"] >= -1 and body["server_run_id"], body
        assert not [p.name for p in run_dir.rglob("*.tmp")], "a temp file named like data"
        result = run_with(run_dir, mlflow_uri)
        assert result.status in ("synced", "skipped"), result.reason
        (server_run,) = runs_tagged(mlflow_uri, "p-cut", run_id)
        assert server_run.info.status == "FINISHED"
        for key in ("m0", "m2"):
            hist = client(mlflow_uri).get_metric_history(server_run.info.run_id, key)
            assert sorted(m.step for m in hist) == list(range(10_000)), key
