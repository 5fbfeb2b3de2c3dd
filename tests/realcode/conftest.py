"""Running a script of scripts/ under ``runwal run`` and reading its run back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from logwriter_util import read_clean
from schema.records import Record

SCRIPTS = Path(__file__).resolve().parent / "scripts"


class Ran:
    """One finished ``runwal run`` of a script: its process and the runs it left."""

    def __init__(self, proc: subprocess.CompletedProcess[str], cwd: Path) -> None:
        self.proc = proc
        self.cwd = cwd

    def run_dirs(self) -> list[Path]:
        """Every run under the script's cwd (``runwal run --dir``'s, or a framework's
        ``wandb.init(dir=...)``: ``<dir>/wandb``)."""
        return sorted(p.parent for p in self.cwd.rglob("run.json"))

    def only(self) -> Path:
        dirs = self.run_dirs()
        assert len(dirs) == 1, dirs
        return dirs[0]

    def records(self, run_dir: Path | None = None) -> list[Record]:
        return read_clean(run_dir or self.only())


def runwal(*args: object, env: dict[str, str] | None = None, cwd: Path | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The runwal CLI in a child, without any WANDB_/RUNWAL_ setting of this process."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNWAL_"))}
    full.update({"RUNWAL_STATS_INTERVAL": "0", "TOKENIZERS_PARALLELISM": "false",
                 "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                 "TQDM_DISABLE": "1"})
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "syncer.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env=full, cwd=cwd)


def run_in(cwd: Path, name: str, *args: str, env: dict[str, str] | None = None) -> Ran:
    """``runwal run --dir CWD/wandb_runs -- python scripts/NAME ARGS`` in ``cwd``; fails
    with the child's output unless it exits 0."""
    proc = runwal("run", "--dir", cwd / "wandb_runs", "--", sys.executable, SCRIPTS / name,
                  *args, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return Ran(proc, cwd)


@pytest.fixture
def run_script(tmp_path: Path) -> Any:
    """``run_script("name.py", *args, env=...)``: `run_in` the test's tmp dir."""

    def go(name: str, *args: str, env: dict[str, str] | None = None) -> Ran:
        return run_in(tmp_path, name, *args, env=env)

    return go


def sync(run_dir: Path, uri: str) -> dict[str, Any]:
    """``runwal sync RUN --to URI --json``: the run's row."""
    proc = runwal("sync", run_dir, "--to", uri, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = json.loads(proc.stdout)["runs"]
    assert row["status"] == "synced", row
    return dict(row)
