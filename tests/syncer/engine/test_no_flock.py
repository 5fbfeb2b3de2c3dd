"""A filesystem that refuses flock (ENOLCK: NFS without a lock manager, Lustre
``noflock``): the SDK still writes its run and the syncer still syncs it exactly
once. Neither lock is a condition of working; exactly once rests on the server
(sinks/mlflow/runs.py), the writer lock only on being there when it can be."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

import logwriter
from logwriter_util import QUIET, history, read_clean
from powercut import needs_fuse, powercut_mount
from syncutil import client, runs_tagged


@needs_fuse
def test_a_run_is_written_and_synced_exactly_once_where_flock_is_refused(
    tmp_path: Path, mlflow_uri: str
) -> None:
    with powercut_mount(tmp_path, no_flock=True) as fs:
        probe = fs.mount / "probe"
        fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            with pytest.raises(OSError) as refused:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert refused.value.errno == errno.ENOLCK
        finally:
            os.close(fd)
        run = logwriter.init(project="p-nolock", id="nolock", dir=fs.mount / "runs", **QUIET)
        for i in range(500):
            run.log({"loss": 1.0 / (i + 1)})
        run.finish()
        assert len(history(read_clean(run.run_dir))) == 500
        for _ in range(2):  # twice: the second finds everything there already
            done = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", run.run_dir,
                                   "--to", mlflow_uri], capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stderr
        (server_run,) = runs_tagged(mlflow_uri, "p-nolock", "nolock")
        hist = client(mlflow_uri).get_metric_history(server_run.info.run_id, "loss")
        assert sorted(m.step for m in hist) == list(range(500))
        fs.cut()
