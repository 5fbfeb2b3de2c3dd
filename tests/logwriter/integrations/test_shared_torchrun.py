"""Shared runs from real distributed jobs: ``torchrun --nproc-per-node 2`` on CPU (gloo).

Each test starts a real job with the real torchrun (``python -m torch.distributed.run``)
on a script of shared_jobs/, then reads what is on disk: one run directory, rank 0's
stream in its ``log/`` and rank 1's in ``streams/rank_1/``, each with its RUN record's
stream facts, its own system metrics and console. The plain torch job is also synced to
the real MLflow server (one server run) and killed with -9 mid-run.

The framework jobs are started without ``--rdzv-id`` (TORCHELASTIC_RUN_ID is then
"none"), so the ranks can only agree on the run id through the integration itself:
Lightning's and transformers' broadcast, accelerate's agent store. The last tests
check, in this process, that ``RUNWAL_SHARED=1`` switches each integration on.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest.importorskip("torch")

from logwriter_util import QUIET, damage, history, merged, of_kind, read_clean, read_run
from schema.records import Record
from syncutil import artifact_names, client, runs_tagged

JOBS = Path(__file__).resolve().parent / "shared_jobs"
SRC = Path(__file__).resolve().parents[3] / "src"
JOB_TIMEOUT = 150.0  # a loaded 2-core machine; each job takes ~10-20 s there

# What the launcher or the user's shell might have set that would steer the job away
# from what a test means to exercise (an id from Slurm, a shared/dir/mode default).
_LEAKY = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
          "MASTER_PORT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def job_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RUNWAL_", "TORCHELASTIC_", "SLURM_", "PMI_", "OMPI_"))
           and k not in _LEAKY}
    if os.environ.get("RUNWAL_CACHE_DIR"):
        env["RUNWAL_CACHE_DIR"] = os.environ["RUNWAL_CACHE_DIR"]  # conftest's private cache
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["HF_HUB_OFFLINE"] = "1"
    return env


def kill_tree(pid: int) -> None:
    """SIGKILL a hung torchrun and its workers (each in a session of its own, so
    killing torchrun alone would leave them running)."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)


def torchrun(script: str, *argv: str | Path, rdzv_id: str | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc-per-node 2 shared_jobs/<script> argv...``; its output in the
    assertion message when it fails. Tried again on another port when the free port
    found was taken before torchrun bound it."""
    for _ in range(3):
        proc = _torchrun_once(script, *argv, rdzv_id=rdzv_id)
        if "EADDRINUSE" not in proc.stderr and "Address already in use" not in proc.stderr:
            break
    if check:
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _torchrun_once(script: str, *argv: str | Path, rdzv_id: str | None
                   ) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    if rdzv_id is not None:
        cmd += ["--rdzv-id", rdzv_id]
    cmd += [str(JOBS / script), *(str(a) for a in argv)]
    started = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=job_env()) as popen:
        try:
            out, err = popen.communicate(timeout=JOB_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_tree(popen.pid)
            out, err = popen.communicate()
            pytest.fail(f"{script} hung for {JOB_TIMEOUT:.0f}s:\n{out}\n{err}")
    print(f"{script}: rc {popen.returncode} in {time.monotonic() - started:.1f}s")
    return subprocess.CompletedProcess(cmd, popen.returncode, out, err)


def only_run(runs: Path) -> Path:
    dirs = sorted(runs.iterdir())
    assert len(dirs) == 1, f"expected one run directory, found {[p.name for p in dirs]}"
    return dirs[0]


def stream_facts(records: list[Record]) -> dict[str, Any]:
    (run,) = of_kind(records, "run")
    facts: dict[str, Any] = run["stream"]
    return facts


def console_text(records: list[Record]) -> str:
    return "".join(b["text"] for b in of_kind(records, "console"))


def assert_shared_run(runs: Path, *, finished: bool = True
                      ) -> tuple[Path, list[Record], list[Record]]:
    """One run directory with rank 0's stream in log/ and rank 1's in streams/rank_1/,
    each stream its own RUN facts, system metrics and console; the two streams'
    records (read clean, dense seqs, when the job finished)."""
    run_dir = only_run(runs)
    assert (run_dir / "log").is_dir() and (run_dir / "run.json").is_file()
    assert sorted(p.name for p in (run_dir / "streams").iterdir()) == ["rank_1"]
    stream_dir = run_dir / "streams" / "rank_1"
    assert (stream_dir / "log").is_dir()
    if finished:
        rank0, rank1 = read_clean(run_dir), read_clean(stream_dir)
    else:
        (rank0, other0), (rank1, other1) = read_run(run_dir), read_run(stream_dir)
        assert damage(other0) == [] and damage(other1) == []
    assert json.loads((run_dir / "run.json").read_text())["run_id"] == run_dir.name
    for rank, records in ((0, rank0), (1, rank1)):
        facts = stream_facts(records)
        assert facts["label"] == f"rank_{rank}" and facts["primary"] is (rank == 0), facts
        assert facts["rank"] == rank and facts["world_size"] == 2, facts
        (run,) = of_kind(records, "run")
        assert run["run_id"] == run_dir.name  # the same run id on both ranks
        assert len(of_kind(records, "stats")) >= 1, f"rank {rank}: no system metrics"
        assert f"rank {rank} " in console_text(records), f"rank {rank}: no console"
        if finished:
            assert [e["status"] for e in of_kind(records, "exit")] == ["finished"], rank
    return run_dir, rank0, rank1


# -- plain torch DDP: logwriter.init(shared=True) --------------------------------------


@pytest.mark.timeout(400)
def test_torch_ddp_shared_run_syncs_as_one_mlflow_run(tmp_path: Path, mlflow_uri: str) -> None:
    job_id = f"ddp-{uuid.uuid4().hex[:10]}"
    runs = tmp_path / "runs"
    torchrun("torch_ddp.py", runs, 12, rdzv_id=job_id)
    run_dir, rank0, rank1 = assert_shared_run(runs)
    assert run_dir.name == job_id  # torchrun --rdzv-id is the run id
    assert sorted(history(rank0)) == list(range(12))
    assert all(set(row) == {"loss"} for row in history(rank0).values())
    assert sorted(history(rank1)) == list(range(12))
    assert all(set(row) == {"local_loss"} for row in history(rank1).values())

    sync = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(runs), "--to",
                           mlflow_uri, "--json"], capture_output=True, text=True,
                          env=job_env(), timeout=180)
    assert sync.returncode == 0, f"{sync.stdout}\n{sync.stderr}"
    report = json.loads(sync.stdout)
    assert len(report["runs"]) == 1, report

    (server_run,) = runs_tagged(mlflow_uri, "shared", job_id)  # ONE server run
    assert server_run.info.status == "FINISHED"
    metrics = set(server_run.data.metrics)
    assert {"loss", "rank_1/local_loss"} <= metrics, metrics
    assert not {"local_loss", "rank_0/loss"} & metrics  # rank 0 as-is, rank 1 under its label
    assert any(k.startswith("system/rank_1/") for k in metrics), metrics
    assert any(k.startswith("system/") and not k.startswith("system/rank_") for k in metrics)
    history1 = client(mlflow_uri).get_metric_history(server_run.info.run_id, "rank_1/local_loss")
    assert sorted(m.step for m in history1) == list(range(12))
    tags = server_run.data.tags
    assert tags.get("runwal.stream.rank_1.rank") == "1", tags
    assert tags.get("runwal.stream.rank_1.status") == "FINISHED", tags
    assert {"output.log", "output.rank_1.log"} <= artifact_names(mlflow_uri,
                                                                   server_run.info.run_id)


@pytest.mark.timeout(300)
def test_rank_killed_with_sigkill_keeps_both_streams(tmp_path: Path) -> None:
    """Rank 1 SIGKILLs itself after step 4 (0.3 s after its last log: past a flush);
    torchrun then tears rank 0 down. Both streams keep what they logged, and
    ``runwal verify`` finds no damage in either: a torn tail at most."""
    runs = tmp_path / "runs"
    proc = torchrun("torch_ddp.py", runs, 40, 4, rdzv_id=f"kill-{uuid.uuid4().hex[:10]}",
                    check=False)
    assert proc.returncode != 0, "torchrun reports the killed rank"
    run_dir, rank0, rank1 = assert_shared_run(runs, finished=False)
    assert sorted(history(rank1)) == list(range(5))  # steps 0-4, all flushed before the kill
    assert of_kind(rank1, "exit") == []  # -9: no exit record, as for any killed writer
    # Rank 0 lost its peer mid-allreduce (or was stopped by torchrun): never "finished".
    assert all(e["status"] != "finished" for e in of_kind(rank0, "exit"))
    assert set(range(4)) <= set(history(rank0))  # rank 0 got at least as far
    verify = subprocess.run([sys.executable, "-m", "syncer.cli", "verify", str(run_dir),
                             "--json"], capture_output=True, text=True, env=job_env(),
                            timeout=120)
    assert verify.returncode == 0, f"{verify.stdout}\n{verify.stderr}"
    report = json.loads(verify.stdout)
    assert report["status"] in ("clean", "torn"), report
    assert report["streams"]["rank_1"]["status"] in ("clean", "torn"), report
    assert report["lost_records"] == 0 and report["streams"]["rank_1"]["lost_records"] == 0


# -- Lightning: RunwalLogger(shared=True), strategy="ddp" under torchrun -------------------


@pytest.mark.timeout(300)
def test_lightning_ddp_runwal_logger_shared(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    runs = tmp_path / "runs"
    proc = torchrun("lightning_ddp.py", runs)
    run_dir, rank0, rank1 = assert_shared_run(runs)
    # Both ranks name the run they wrote: the id the logger agreed on.
    assert proc.stdout.count(f"run {run_dir.name}") == 2, proc.stdout
    # Metrics and hyper-parameters from rank 0 only, as Lightning logs them.
    rows = history(rank0)
    assert sorted(s for s, d in rows.items() if "train/loss" in d) == list(range(8))
    assert merged(rank0, "config") == {"lr": 0.05}
    assert history(rank1) == {} and of_kind(rank1, "config") == []


# -- transformers: RunwalCallback(shared=True) ------------------------------------------


@pytest.mark.timeout(300)
def test_transformers_trainer_runwal_callback_shared(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    runs = tmp_path / "runs"
    proc = torchrun("transformers_ddp.py", runs, tmp_path / "out")
    run_dir, rank0, rank1 = assert_shared_run(runs)
    assert proc.stdout.count(f"run {run_dir.name}") == 2, proc.stdout
    # Config, metrics and summary on world process zero only, as the Trainer logs them.
    assert sorted(s for s, d in history(rank0).items() if "train/loss" in d) == [2, 4, 6]
    config = merged(rank0, "config")
    assert config["learning_rate"] == 3e-4 and config["model"]["hidden_size"] == 16
    assert "train_runtime" in merged(rank0, "summary")
    assert history(rank1) == {} and of_kind(rank1, "config") == []


# -- accelerate: RunwalTracker(shared=True) -----------------------------------------------


@pytest.mark.timeout(300)
def test_accelerate_runwal_tracker_shared(tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    runs = tmp_path / "runs"
    proc = torchrun("accelerate_ddp.py", runs)
    run_dir, rank0, rank1 = assert_shared_run(runs)
    assert proc.stdout.count(f"run {run_dir.name}") == 2, proc.stdout
    # accelerate logs from the main process only.
    assert merged(rank0, "config") == {"lr": 0.05, "batch": 8}
    assert sorted(history(rank0)) == list(range(8))
    assert history(rank1) == {} and of_kind(rank1, "config") == []


# -- RUNWAL_SHARED=1 switches each integration to a shared run (one process here) ---------


@pytest.fixture
def shared_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNWAL_SHARED", "1")


def primary_facts(run_dir: Path) -> dict[str, Any] | None:
    (run,) = of_kind(read_clean(run_dir), "run")
    facts: dict[str, Any] | None = run.get("stream")
    return facts


def test_runwal_shared_env_lightning_logger(tmp_path: Path, shared_env: None) -> None:
    pytest.importorskip("lightning")
    from logwriter.integrations.lightning import RunwalLogger

    logger = RunwalLogger(project="env", dir=tmp_path / "runs", mode="offline", **QUIET)
    assert logger.experiment.settings.shared
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.finalize("success")
    facts = primary_facts(Path(logger.log_dir or ""))
    assert facts is not None and facts["label"] == "rank_0" and facts["primary"] is True
    plain = RunwalLogger(project="env", dir=tmp_path / "plain", mode="offline", shared=False,
                         **QUIET)
    assert not plain.experiment.settings.shared  # shared=False wins over the environment
    plain.finalize("success")
    assert primary_facts(Path(plain.log_dir or "")) is None


def test_runwal_shared_env_transformers_callback(tmp_path: Path, shared_env: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    transformers = pytest.importorskip("transformers")
    import torch
    import tqdm

    from logwriter.integrations.transformers import RunwalCallback

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)  # tqdm's thread, not runwal's
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, vocab_size=100,
                                     max_position_embeddings=16)
    data = [{"input_ids": torch.randint(0, 100, (8,)), "labels": torch.tensor(i % 2)}
            for i in range(8)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=2, logging_steps=1, report_to="none",
        use_cpu=True, per_device_train_batch_size=4, disable_tqdm=True, save_strategy="no")
    callback = RunwalCallback(project="env", dir=tmp_path / "runs", mode="offline", **QUIET)
    transformers.Trainer(transformers.BertForSequenceClassification(config), args,
                         train_dataset=data, callbacks=[callback]).train()
    assert callback.run is not None and callback.run.settings.shared
    facts = primary_facts(Path(callback.run.run_dir))
    assert facts is not None and facts["label"] == "rank_0" and facts["primary"] is True


def test_runwal_shared_env_accelerate_tracker(tmp_path: Path, shared_env: None) -> None:
    pytest.importorskip("accelerate")
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from logwriter.integrations.accelerate import RunwalTracker

    try:
        tracker = RunwalTracker(project="env", dir=tmp_path / "runs", mode="offline", **QUIET)
        assert tracker.main_process_only is False and tracker.tracker is None
        accelerator = Accelerator(cpu=True, log_with=tracker)
        accelerator.init_trackers("env", config={"lr": 0.1})
        accelerator.log({"loss": 1.0}, step=0)
        accelerator.end_training()
        run = tracker.tracker
        assert run is not None and run.settings.shared and run.finished
        facts = primary_facts(Path(run.run_dir))
        assert facts is not None and facts["primary"] is True
        assert RunwalTracker(shared=False).main_process_only is True
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
