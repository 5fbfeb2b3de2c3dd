"""wandb semantics real scripts hit: init's other arguments, config coercions,
define_metric's summary modes, and the run attributes scripts read."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import logwriter
from logwriter.errors import SaveWarning
from logwriter_util import QUIET, history, merged, of_kind, read_clean


class Color(enum.Enum):
    RED = 1


class Strategy(str, enum.Enum):
    STEPS = "steps"


@dataclasses.dataclass
class Opt:
    name: str = "adam"
    betas: tuple[float, float] = (0.9, 0.99)


class HasToDict:
    def to_dict(self) -> dict[Any, Any]:
        return {"hidden": 8, "id2label": {0: "neg", 1: "pos"}}


@pytest.fixture(autouse=True)
def _no_current_run() -> Any:
    yield
    logwriter.finish()


def test_wandb_init_arguments_are_accepted_applied_or_recorded(tmp_path: Path) -> None:
    run = logwriter.init(
        project="p", dir=tmp_path, entity="team", reinit=True, anonymous="allow",
        settings={"console": "off", "run_group": "g", "start_method": "thread"},
        allow_val_change=True, config={"a": 1, "b": 2, "c": 3}, config_exclude_keys=["b"],
        config_include_keys=["a", "b"], force=False, monitor_gym=True, resume="auto",
        magic=False, sync_tensorboard=False, stats_interval=0)
    assert (run.entity, run.group, run.path) == ("team", "g", f"team/p/{run.id}")
    assert run.settings.capture_console is False and run.settings.resume == "allow"
    assert run.settings.sync_tensorboard is False
    assert logwriter.init(reinit="return_previous") is run
    run.finish()
    records = read_clean(run.run_dir)
    head = of_kind(records, "run")[0]
    assert head["entity"] == "team" and head["tags"] == ["entity:team"]
    config = merged(records, "config")
    assert config == {"a": 1, "_wandb/anonymous": "allow", "_wandb/force": False,
                      "_wandb/magic": False, "_wandb/monitor_gym": True,
                      "_wandb/allow_val_change": True,
                      "_wandb/settings": {"console": "off", "run_group": "g",
                                          "start_method": "thread"}}


def test_save_code_saves_the_main_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    monkeypatch.setattr(__import__("__main__"), "__file__", str(script), raising=False)
    run = logwriter.init(dir=tmp_path / "runs", save_code=True, **QUIET)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "data.bin").write_bytes(b"\0")
    assert run.log_code(tmp_path) == ["train.py", "pkg/model.py"]
    # wandb scripts write checkpoints into run.dir (the files directory) and save them
    # from there: recorded where they are, never copied onto themselves.
    ckpt = Path(run.dir) / "ckpt" / "model.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    inode = ckpt.stat().st_ino
    assert run.save(os.path.join(run.dir, "ckpt", "model.pt")) == ["ckpt/model.pt"]
    assert run.save(os.path.join(run.dir, "ckpt", "*"), policy="end") == ["ckpt/model.pt"]
    # The run's own files are never saved into it.
    assert run.save(os.path.join(run.run_dir, "*")) == []
    assert run.save(os.path.join(run.run_dir, "log", "*"), policy="end") == []
    run.finish()
    assert ckpt.read_bytes() == b"weights" and ckpt.stat().st_ino == inode
    assert sorted(b["path"] for b in of_kind(read_clean(run.run_dir), "file")) == [
        "ckpt/model.pt", "ckpt/model.pt", "pkg/model.py", "train.py", "train.py"]
    assert [p.name for p in ckpt.parent.iterdir()] == ["model.pt"]  # no temp copies


def test_run_dir_is_the_files_dir_and_what_is_written_there_is_recorded(tmp_path: Path
                                                                        ) -> None:
    run = logwriter.init(dir=tmp_path / "runs", **QUIET)
    assert run.dir == run.files_dir == os.path.join(run.run_dir, "files")
    assert os.path.isdir(run.dir) and (Path(run.run_dir) / "run.json").is_file()
    d = Path(run.dir)
    torch.save({"w": torch.ones(2)}, os.path.join(run.dir, "model.pt"))
    (d / "sub").mkdir()
    with open(os.path.join(run.dir, "sub", "notes.txt"), "w") as fh:
        fh.write("notes")
    (d / "saved.txt").write_text("saved")
    assert run.save(str(d / "saved.txt"), policy="live") == ["saved.txt"]
    (d / "live.txt").write_text("v1")
    assert run.save(str(d / "live.txt"), policy="live") == ["live.txt"]
    (tmp_path / "v2").write_text("v2, longer")  # whole, so that the watch never sees half
    os.replace(tmp_path / "v2", d / "live.txt")  # re-recorded once, in place
    # Not the script's: the stores' content and temp names, links, a FIFO.
    (tmp_path / "data.csv").write_text("a,b\n")
    run.log_artifact(str(tmp_path / "data.csv"), name="data", type="dataset")
    run.log({"img": logwriter.Image(np.zeros((4, 4, 3), np.uint8))})
    (d / ".model.pt.123.tmp").write_bytes(b"half")
    (d / "link.pt").symlink_to(d / "model.pt")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("no")
    (d / "linked_dir").symlink_to(tmp_path / "outside")
    os.mkfifo(d / "fifo")
    run.finish()
    bodies = of_kind(read_clean(run.run_dir), "file")
    assert [(b["path"], b["policy"]) for b in bodies] == [
        ("saved.txt", "live"), ("live.txt", "live"), ("live.txt", "live"),
        ("model.pt", "end"), ("sub/notes.txt", "end")]
    model = bodies[3]
    data = (d / "model.pt").read_bytes()
    assert model["size"] == len(data) and model["sha256"] == hashlib.sha256(data).hexdigest()
    assert bodies[2]["sha256"] == hashlib.sha256(b"v2, longer").hexdigest()
    assert of_kind(read_clean(run.run_dir), "exit")[0]["status"] == "finished"


def test_a_resumed_run_records_only_what_no_earlier_process_did(tmp_path: Path) -> None:
    first = logwriter.init(dir=tmp_path, id="r1", **QUIET)
    d = Path(first.dir)
    (d / "kept.txt").write_text("same")
    (d / "changed.txt").write_text("before")
    first.finish()
    again = logwriter.init(dir=tmp_path, id="r1", resume="must", **QUIET)
    assert again.resumed and again.dir == first.dir
    (d / "changed.txt").write_text("after")
    (d / "new.txt").write_text("new")
    again.finish()
    bodies = of_kind(read_clean(again.run_dir), "file")
    assert [b["path"] for b in bodies] == ["changed.txt", "kept.txt", "changed.txt", "new.txt"]
    assert bodies[2]["sha256"] == hashlib.sha256(b"after").hexdigest()


def test_the_files_recorded_at_finish_are_bounded(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("logwriter.files.save.MAX_FILES", 2)
    run = logwriter.init(dir=tmp_path, **QUIET)
    for name in "abc":
        (Path(run.dir) / name).write_text(name)
    with pytest.warns(SaveWarning, match="recorded 2 files written into run.dir .* left 1"):
        run.finish()
    assert [b["path"] for b in of_kind(read_clean(run.run_dir), "file")] == ["a", "b"]


def test_the_walk_knows_the_stores_and_skips_what_vanished(tmp_path: Path) -> None:
    from logwriter.artifacts.store import STORE_DIR
    from logwriter.files.dirfiles import STORE_DIRS, hash_regular
    from logwriter.media.store import MEDIA_DIR

    assert STORE_DIRS == (MEDIA_DIR, STORE_DIR)
    assert hash_regular(tmp_path / "gone") is None


def test_config_values_are_stored_the_way_wandb_stores_them(tmp_path: Path) -> None:
    args = argparse.Namespace(lr=0.1, path=Path("/data/x"), tags={"b", "a"})
    run = logwriter.init(dir=tmp_path, config=args, **QUIET)
    run.config.update({
        "id2label": {0: "neg", 1: "pos"}, "color": Color.RED, "strategy": Strategy.STEPS,
        "shape": (2, 3), "opt": Opt(), "model": HasToDict(), 7: "int key",
        "dtype": torch.float16, "device": torch.device("cpu"), "np_dtype": np.dtype("float32"),
        "np_int": np.int64(3), "arr": np.arange(3), "tensor": torch.tensor([1.5, 2.5]),
        "nested_ns": argparse.Namespace(k=1), "raw": b"bytes", "fn": len,
    })
    run.config.setdefaults({"lr": 99, "new": 1})
    assert run.config.lr == 0.1 and run.config["new"] == 1 and "shape" in list(run.config.keys())
    assert run.config.setdefault("lr", 5) == 0.1
    assert dict(run.config.items())["path"] == "/data/x"
    run.finish()
    config = merged(read_clean(run.run_dir), "config")
    assert config == {  # enums by name, as wandb 0.31 stores them
        "lr": 0.1, "path": "/data/x", "tags": ["a", "b"],
        "id2label": {"0": "neg", "1": "pos"}, "color": "RED", "strategy": "STEPS",
        "shape": [2, 3], "opt": {"name": "adam", "betas": [0.9, 0.99]},
        "model": {"hidden": 8, "id2label": {"0": "neg", "1": "pos"}}, "7": "int key",
        "dtype": "torch.float16", "device": "cpu", "np_dtype": "float32", "np_int": 3,
        "arr": [0, 1, 2], "tensor": [1.5, 2.5], "nested_ns": {"k": 1}, "raw": "bytes",
        "fn": "<built-in function len>", "new": 1,
    }


def test_a_rejected_init_config_leaves_no_run_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both name"):
        logwriter.init(dir=tmp_path, config={"a/b": 1, "a": {"b": 2}}, **QUIET)
    with pytest.raises(ValueError, match=r"surrogate|valid"):
        logwriter.init(dir=tmp_path, config={"\udce9": 1}, **QUIET)
    with pytest.raises(TypeError, match="needs a dict"):
        logwriter.init(dir=tmp_path, config=[1, 2], **QUIET)
    assert logwriter.run is None and os.listdir(tmp_path) == []


def test_define_metric_takes_wandb_arguments_and_summary_modes(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.define_metric("epoch", hidden=True)
    run.define_metric("val/*", step_metric="epoch", step_sync=True, summary="max")
    run.define_metric("loss", summary="min,max,last")
    run.define_metric("acc", summary="best", goal="maximize")
    run.define_metric("first_seen", summary="first")
    run.define_metric("copied", summary="copy", overwrite=True)
    with pytest.raises(ValueError, match="goal"):
        run.define_metric("x", goal="up")
    for epoch, (loss, acc) in enumerate([(3.0, 0.5), (1.0, 0.9), (2.0, 0.7)]):
        run.log({"epoch": epoch, "val/acc": acc, "val/loss": loss, "loss": loss, "acc": acc,
                 "first_seen": loss, "copied": loss})
    assert run.summary["val/acc"] == 0.9 and run.summary["val/loss"] == 3.0
    run.finish()
    records = read_clean(run.run_dir)
    defs = of_kind(records, "metric_def")
    assert defs[1] == {"name": "val/*", "step_metric": "epoch", "summary": "max",
                       "hidden": False, "step_sync": True}
    assert defs[2]["summaries"] == ["min", "max", "last"] and defs[2]["summary"] == "min"
    assert defs[3] == {"name": "acc", "step_metric": None, "summary": "max", "hidden": False,
                       "goal": "maximize"}
    assert defs[4]["summary"] is None and defs[4]["summaries"] == ["first"]
    assert merged(records, "summary") == {
        "epoch": 2, "val/acc": 0.9, "val/loss": 3.0, "loss": 1.0, "loss/max": 3.0,
        "loss/last": 2.0, "acc": 0.9, "first_seen": 3.0, "copied": 2.0}
    assert history(records)[2]["val/acc"] == 0.7


def test_run_attributes_scripts_read(tmp_path: Path) -> None:
    assert logwriter.run is None
    run = logwriter.init(project="p", name="n", dir=tmp_path, group="g", job_type="train",
                         tags=["a"], notes="first", **QUIET)
    assert logwriter.run is run
    assert (run.project, run.name, run.group, run.job_type, run.notes) == (
        "p", "n", "g", "train", "first")
    assert run.tags == ("a",) and run.offline and not run.disabled and run.sweep_id is None
    assert run.url == Path(run.run_dir).as_uri() == run.get_url()
    assert run.get_project_url() == Path(tmp_path).resolve().as_uri()
    assert run.dir == run.files_dir == os.path.join(run.run_dir, "files") and not run.resumed
    assert abs(run.start_time - time.time()) < 60
    run.tags = (*run.tags, "b")
    run.notes = "second"
    run.name = "renamed"
    assert run.tags == ("a", "b") and run.notes == "second" and run.name == "renamed"
    # Once a syncer created the MLflow run, url is its address (the sync checkpoint).
    sync = Path(run.run_dir) / "sync"
    sync.mkdir()
    (sync / "mlflow-127.0.0.1_5000.json").write_text(json.dumps({
        "sink": "mlflow", "uri": "http://127.0.0.1:5000", "server_run_id": "abc",
        "experiment_id": "7", "updated": 1.0}))
    assert run.url == "http://127.0.0.1:5000/#/experiments/7/runs/abc"
    assert run.get_project_url() == "http://127.0.0.1:5000/#/experiments/7"
    run.mark_preempting()
    run.finish(exit_code=1)
    assert logwriter.run is None
    records = read_clean(run.run_dir)
    assert of_kind(records, "exit")[0]["status"] == "preempted"
    assert merged(records, "config") == {"_wandb/tags": ["a", "b"], "_wandb/notes": "second",
                                         "_wandb/name": "renamed"}
    assert of_kind(records, "run")[0]["name"] == "n"
