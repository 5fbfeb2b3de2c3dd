"""`runwal sync` of a run dir on a really full disk (a small tmpfs): the checkpoint
cannot be written. The sync fails with one line naming the cause (exit 1), leaves
no half-written temp file beside the checkpoint, and once space comes back the next
sync ends with one server run and every row once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from smallfs import needs_mount, small_tmpfs
from syncutil import client, runs_tagged, training_records, write_run


def _sync(run_dir: Path, uri: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(run_dir), "--to",
                           uri], capture_output=True, text=True, timeout=120)


@needs_mount
def test_sync_on_a_full_disk_fails_cleanly_and_resumes_exactly(
    tmp_path: Path, mlflow_uri: str
) -> None:
    with small_tmpfs(tmp_path / "disk", "2m") as fs:
        rd = write_run(fs.path / "runs", "full1", training_records(2000), project="p-full")
        ballast = fs.path / "ballast"
        try:
            with open(ballast, "wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * 4096)
        except OSError:
            pass
        failed = _sync(rd, mlflow_uri)
        assert failed.returncode == 1, failed.stderr
        assert "No space left on device" in failed.stdout + failed.stderr
        assert "Traceback" not in failed.stderr
        assert [p.name for p in (rd / "sync").iterdir() if p.name.endswith(".tmp")] == []
        ballast.unlink()
        done = _sync(rd, mlflow_uri)
        assert done.returncode == 0, done.stderr
    (server_run,) = runs_tagged(mlflow_uri, "p-full", "full1")
    assert server_run.info.status == "FINISHED"
    hist = client(mlflow_uri).get_metric_history(server_run.info.run_id, "loss")
    assert sorted(m.step for m in hist) == list(range(2000))
