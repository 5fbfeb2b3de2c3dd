"""RunwalTracker under a real accelerate Accelerator on CPU: what lands in the run dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("accelerate")
from accelerate import Accelerator
from accelerate.state import AcceleratorState, PartialState

from logwriter.integrations.accelerate import RunwalTracker
from logwriter_util import QUIET, history, of_kind, read_clean


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    """accelerate keeps its process state in singletons; each test starts clean."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_tracker_records_config_metrics_and_exit(tmp_path: Path) -> None:
    tracker = RunwalTracker(project="acc", dir=tmp_path / "runs", mode="offline", **QUIET)
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("acc", config={"lr": 0.01, "batch": 8, "opt": "sgd"})
    run = accelerator.get_tracker("runwal", unwrap=True)
    assert run is tracker.tracker and run is not None
    for i in range(3):
        accelerator.log({"train/loss": 1.0 / (i + 1), "lr": 0.01}, step=i)
    accelerator.log({"eval/acc": 0.5}, step=3)
    accelerator.end_training()
    records = read_clean(run.run_dir)
    config: dict[str, Any] = {}
    for delta in of_kind(records, "config"):
        config.update(delta)
    assert config == {"lr": 0.01, "batch": 8, "opt": "sgd"}
    rows = history(records)
    assert rows == {0: {"train/loss": 1.0, "lr": 0.01}, 1: {"train/loss": 0.5, "lr": 0.01},
                    2: {"train/loss": 1.0 / 3, "lr": 0.01}, 3: {"eval/acc": 0.5}}
    assert [(e["status"], e["code"]) for e in of_kind(records, "exit")] == [("finished", 0)]


def test_tracker_logs_nothing_off_the_main_process(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = RunwalTracker(project="acc", dir=tmp_path / "runs", mode="offline", **QUIET)
    accelerator = Accelerator(cpu=True, log_with=tracker)
    # Rank 1 of a distributed job, as accelerate's on_main_process sees it.
    monkeypatch.setattr(PartialState, "is_main_process", property(lambda self: False))
    monkeypatch.setattr(PartialState, "use_distributed", property(lambda self: True))
    accelerator.init_trackers("acc", config={"lr": 0.01})
    accelerator.log({"loss": 1.0}, step=0)
    accelerator.end_training()
    assert tracker.tracker is None
    assert not (tmp_path / "runs").exists()
