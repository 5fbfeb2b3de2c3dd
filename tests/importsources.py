"""Sources for the import tests, made here by the real tools: TensorBoard logdirs written by
tensorboardX and torch, wandb offline runs written by the real wandb (pinned 0.31.0) in a
subprocess. Shared by the importer's tests (tests/logwriter/importers) and the command's
(tests/syncer/test_import_*.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from logwriter.tensorboard.events import is_event_file

TB_STEPS = 25
WANDB_STEPS = 300

WANDB_SCRIPT = """
import sys, wandb
run = wandb.init(project="wb-import", name="nice", config={"lr": 0.1, "opt": {"name": "adam"}},
                 tags=["t1", "t2"], notes="a note", group="g", job_type="train")
for i in range(%(steps)d):
    row = {"loss": 1.0 / (i + 1), "acc/train": i * 0.5, "label": "x%%d" %% i}
    if i == 5:
        import numpy as np
        row["sample"] = wandb.Image(np.full((4, 6, 3), 200, dtype=np.uint8), caption="c5")
        row["weights"] = wandb.Histogram(np_histogram=([1, 3], [0.0, 0.5, 1.0]))
    wandb.log(row)
wandb.log({"late": 7}, step=%(steps)d + 10)
print("hello from wandb")
print("to stderr", file=sys.stderr)
run.summary["best"] = 0.99
open("model.txt", "w").write("weights")
wandb.save("model.txt", policy="now")
run.finish(exit_code=%(code)d)
"""


def torch_writer() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter


def tbx_writer() -> Any:
    from tensorboardX import SummaryWriter

    return SummaryWriter


def write_logdir(root: Path) -> None:
    """Two runs, one per writer, each with every kind of value."""
    for name, make in (("tbx", tbx_writer), ("torch", torch_writer)):
        w = make()(str(root / name))
        for step in range(TB_STEPS):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("acc", step / TB_STEPS, step)
        w.add_text("log", f"written by {name}", 3)
        img = np.full((3, 2, 3), 128, dtype=np.uint8)
        w.add_image("sample", img, 4)
        w.add_histogram("w", np.array([1.0, 2.0, 2.0, 3.0]), 5)
        w.add_hparams({"lr": 0.001, "name": name}, {"hparam/best": 0.5})
        w.close()


def write_scalars(logdir: Path, steps: int, tag: str = "x") -> None:
    """A one-run logdir of ``steps`` scalars (tensorboardX)."""
    w = tbx_writer()(str(logdir))
    for step in range(steps):
        w.add_scalar(tag, float(step), step)
    w.close()


def event_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.rglob("*") if p.is_file() and is_event_file(p.name))


def make_offline_run(where: Path, code: int = 0, script: str | None = None) -> Path:
    """A wandb offline run directory made by the real wandb, in a subprocess
    (WANDB_SCRIPT, or ``script`` as it is)."""
    where.mkdir(parents=True)
    (where / "train.py").write_text(
        WANDB_SCRIPT % {"steps": WANDB_STEPS, "code": code} if script is None else script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_DIR=str(where), WANDB_SILENT="true",
               WANDB_DISABLE_GIT="true", WANDB_CONSOLE="wrap")
    env.pop("PYTHONPATH", None)  # the real wandb, never runwal's shim
    proc = subprocess.run([sys.executable, "train.py"], cwd=where, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (where / "wandb").glob("offline-run-*")
    return run_dir


def not_wandb_runs(where: Path) -> tuple[Path, Path]:
    """Two sources that are no wandb run: a run dir whose log has no wandb header
    ("no wandb log header"), and an empty directory ("no wandb run here")."""
    bad = where / "offline-run-x"
    bad.mkdir()
    (bad / "run-x.wandb").write_bytes(b"not a log at all")
    empty = where / "empty"
    empty.mkdir()
    return bad, empty


def fake_packages(root: Path, files: dict[str, str]) -> str:
    """A directory of stand-in modules (``{"wandb/__init__.py": source}``) to put first on
    a child's PYTHONPATH: a package blocked, or a scripted importer process."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)
