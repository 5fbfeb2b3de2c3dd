"""Shared runs in the SDK: ids, labels and the primary from the launcher's environment,
where each process writes, the run.json race, wandb's spelling, and one rank's crash.

Syncing shared runs is tests/syncer/engine/test_shared_sync.py; real framework jobs
under torchrun are tests/logwriter/integrations/test_shared_torchrun.py.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logwriter.session.settings import InitArgs, resolve
from logwriter_util import read_run
from schema.atomic import create_json_once
from schema.events import Frame
from schema.layout import RunDir
from schema.reader import iter_run_log
from syncer.inspect.verify import VerifyReport

CHILD = str(Path(__file__).resolve().parents[2] / "shared_child.py")
LAUNCH_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "GROUP_RANK", "SLURM_PROCID", "SLURM_JOB_ID",
               "SLURM_STEP_ID", "SLURM_NODEID", "TORCHELASTIC_RUN_ID", "PMI_RANK",
               "OMPI_COMM_WORLD_RANK", "RUNWAL_SHARED", "WANDB_MODE", "WANDB_X_PRIMARY",
               "WANDB_X_LABEL")


@pytest.fixture
def launcher(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_torchrun_environment_gives_id_label_and_primary(launcher: pytest.MonkeyPatch) -> None:
    launcher.setenv("TORCHELASTIC_RUN_ID", "job42")
    launcher.setenv("RANK", "3")
    launcher.setenv("LOCAL_RANK", "1")
    launcher.setenv("WORLD_SIZE", "8")
    launcher.setenv("GROUP_RANK", "1")
    s = resolve(InitArgs(shared=True, dir="/r"))
    assert (s.run_id, s.label, s.primary) == ("job42", "rank_3", False)
    assert s.run_dir == "/r/job42/streams/rank_3" and s.shared_run_dir == "/r/job42"
    assert s.stream == {"label": "rank_3", "primary": False, "rank": 3, "local_rank": 1,
                        "world_size": 8, "node_rank": 1}
    launcher.setenv("RANK", "0")
    zero = resolve(InitArgs(shared=True, dir="/r"))
    assert zero.primary and zero.run_dir == "/r/job42"


def test_slurm_environment_and_explicit_arguments(launcher: pytest.MonkeyPatch) -> None:
    launcher.setenv("SLURM_JOB_ID", "777")
    launcher.setenv("SLURM_STEP_ID", "2")
    launcher.setenv("SLURM_PROCID", "5")
    s = resolve(InitArgs(shared=True))
    assert (s.run_id, s.label, s.primary) == ("777_2", "rank_5", False)
    s = resolve(InitArgs(shared=True, id="mine", label="eval", primary=True))
    assert (s.run_id, s.label, s.primary) == ("mine", "eval", True)
    launcher.setenv("TORCHELASTIC_RUN_ID", "none")  # torchrun without --rdzv-id
    assert resolve(InitArgs(shared=True)).run_id == "777_2"


def test_shared_run_arguments_that_cannot_work_are_refused(launcher: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="needs the run's id"):
        resolve(InitArgs(shared=True))
    with pytest.raises(ValueError, match="label="):
        resolve(InitArgs(shared=True, id="x", label="../up"))
    with pytest.raises(ValueError, match="for shared runs"):
        resolve(InitArgs(id="x", label="rank_1"))
    made = resolve(InitArgs(shared=True, primary=True))  # wandb's x_primary=True: new id
    assert made.primary and made.run_id and made.run_dir.endswith(made.run_id)
    with pytest.raises(ValueError, match="needs the run's id"):
        resolve(InitArgs(shared=True, primary=False))
    no_rank = resolve(InitArgs(shared=True, id="x"))  # no launcher: a primary, named by pid
    assert no_rank.primary and no_rank.label and no_rank.label.endswith(f"_{os.getpid()}")


def test_wandb_spellings_and_the_environment_switch(launcher: pytest.MonkeyPatch) -> None:
    class Settings:  # as wandb.Settings holds its fields (the shim's is tested under
        def __init__(self, **kw: object) -> None:  # runwal run: test_cli_run.py; importing
            self.__dict__.update(kw)  # it here would put the shim in this process)

    s = resolve(InitArgs(id="w", settings=Settings(mode="shared", x_primary=False,
                                                    x_label="worker_2",
                                                    x_update_finish_state=False)))
    assert (s.shared, s.label, s.primary) == (True, "worker_2", False)
    launcher.setenv("RUNWAL_SHARED", "1")
    launcher.setenv("RANK", "2")
    s = resolve(InitArgs(id="e"))
    assert (s.shared, s.label, s.primary) == (True, "rank_2", False)
    assert not resolve(InitArgs(id="e", shared=False)).shared


def _create(args: tuple[str, int]) -> bool:
    path, n = args
    return create_json_once(path, {"writer": n})


def test_run_json_is_created_once_by_whichever_process_comes_first(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        made = pool.map(_create, [(str(target), n) for n in range(16)])
    assert made.count(True) == 1
    assert json.loads(target.read_text())["writer"] == made.index(True)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left


def test_each_process_writes_its_own_stream_and_a_killed_rank_costs_only_its_own(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ends = {0: "finish", 1: "kill", 2: "finish"}
    procs = [subprocess.Popen([sys.executable, CHILD, str(runs), "shsdk", str(r), "3", "200",
                               ends[r]], stderr=subprocess.PIPE, text=True) for r in range(3)]
    for p in procs:
        p.communicate(timeout=120)
    assert [p.returncode for p in procs] == [0, -9, 0]
    rd = RunDir(runs / "shsdk")
    assert json.loads(rd.run_json.read_text())["run_id"] == "shsdk"
    assert [s.path.name for s in rd.streams()] == ["rank_1", "rank_2"]
    assert not (rd.streams_dir / "rank_1" / "run.json").exists()  # identity is the run's
    for stream, rank in ((rd, 0), *((s, int(s.path.name[-1])) for s in rd.streams())):
        records, _events = read_run(stream.path)
        first = records[0]
        assert first.kind == "run" and first.body["stream"]["rank"] == rank
        assert first.body["stream"]["primary"] == (rank == 0)
        assert records[0].seq == 0  # each stream's seqs are its own, from 0
        losses = [r.body["data"]["loss"] for r in records if r.kind == "history"]
        assert losses[:199] == [rank + i / 1000 for i in range(199)], rank
        assert VerifyReport.read(stream).status in ("clean", "torn"), rank
        assert (records[-1].kind == "exit") == (rank != 1), rank
    frames = [e for e in iter_run_log(rd.streams_dir / "rank_2" / "log") if isinstance(e, Frame)]
    assert frames and frames[0].base_seq == 0
