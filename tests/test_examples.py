"""The scripts in examples/ run as a new user would run them, and leave what they promise."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from syncer.inspect.runview import RunView

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_train_example_writes_a_complete_run(tmp_path: Path) -> None:
    proc = run_example("train.py", "--steps", 60, "--dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = tmp_path.iterdir()
    view = RunView.load(run_dir)
    assert view.exit is not None and view.exit["status"] == "finished"
    assert view.metrics["train/loss"].count == 60
    assert view.metrics["val/acc"].count == 1  # every 50 steps
    assert view.config["optimizer"] == {"name": "sgd", "momentum": 0.0}
    assert "model.json" in view.files
    assert {k: (v["kind"], v["records"]) for k, v in view.media.items()} == {
        "val/predictions": ("table", 1), "val/curve": ("table", 1)}
    assert not view.damage


def test_resume_example_continues_one_run_across_a_preemption(tmp_path: Path) -> None:
    first = run_example("resume.py", "--dir", tmp_path, "--id", "job1", "--steps", 30)
    assert first.returncode == -signal.SIGTERM, first.stderr  # the default action ran
    assert RunView.load(tmp_path / "job1").exit["status"] == "preempted"  # type: ignore[index]
    second = run_example("resume.py", "--dir", tmp_path, "--id", "job1", "--steps", 30,
                         "--finish")
    assert second.returncode == 0, second.stderr
    assert "starting at step 30 (resumed)" in second.stdout
    view = RunView.load(tmp_path / "job1")
    assert view.exit is not None and view.exit["status"] == "finished"
    assert view.metrics["loss"].count == 60 and view.last_step == 59
    assert len(view.segments) == 2 and len(view.resumes) == 1
    assert not view.damage and not view.torn


def test_ranks_example_gives_one_run_per_rank_in_one_group(tmp_path: Path) -> None:
    proc = run_example("ranks.py", "--world-size", 3, "--steps", 20, "--dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    views = [RunView.load(p) for p in sorted(tmp_path.iterdir())]
    assert len(views) == 3
    assert {v.run["group"] for v in views} == {"ddp-example"}
    assert sorted(v.config["rank"] for v in views) == [0, 1, 2]
    for v in views:
        assert v.metrics["loss"].count == 20
        assert ("lr" in v.metrics) == (v.config["rank"] == 0)
        assert v.exit is not None and v.exit["status"] == "finished"


def test_shared_example_gives_one_run_with_a_stream_per_rank(tmp_path: Path) -> None:
    proc = run_example("shared.py", "--world-size", 3, "--steps", 20, "--dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name == "shared-example"
    streams = sorted(p.name for p in (run_dir / "streams").iterdir())
    assert streams == ["rank_1", "rank_2"]
    for path, rank in ((run_dir, 0), (run_dir / "streams" / "rank_1", 1),
                       (run_dir / "streams" / "rank_2", 2)):
        view = RunView.load(path)
        assert view.metrics["loss"].count == 20
        assert ("lr" in view.metrics) == (rank == 0)
        assert view.exit is not None and view.exit["status"] == "finished"
        assert view.run["stream"]["rank"] == rank
