"""The user API: facade names, step semantics, config, summary, define_metric,
save, alert, resume, modes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import logwriter
from logwriter.errors import NoServerError, RunDirError, RunFinishedError, StepWarning
from logwriter_util import QUIET, history, of_kind, read_clean


def test_facade_exports_exactly_the_user_api() -> None:
    assert sorted(logwriter.__all__) == sorted(
        ["init", "log", "finish", "config", "summary", "save", "define_metric", "alert",
         "Run", "run",
         "Artifact", "log_artifact", "use_artifact", "log_model", "watch", "unwatch",
         "Image", "Audio", "Video", "Html", "Histogram", "Table", "Object3D", "plot"]
    )
    for name in logwriter.__all__:
        assert hasattr(logwriter, name)


def test_module_level_api_follows_the_current_run(tmp_path: Path) -> None:
    assert logwriter.run is None
    with pytest.raises(RunFinishedError, match="init"):
        logwriter.log({"a": 1})
    run = logwriter.init(project="p", name="first", dir=tmp_path, config={"lr": 0.1}, **QUIET)
    assert logwriter.run is run
    logwriter.config.bs = 32
    assert logwriter.config.lr == 0.1 and logwriter.config["bs"] == 32
    logwriter.log({"loss": 1.0})
    logwriter.summary["best"] = 7
    logwriter.alert("diverged", "loss is nan", level="warn")
    logwriter.finish()
    assert logwriter.run is None
    logwriter.finish()  # no run: a no-op
    run.finish()  # idempotent

    ident = json.loads((Path(run.run_dir) / "run.json").read_text())
    assert ident["run_id"] == run.id and ident["project"] == "p" and ident["name"] == "first"
    assert len(run.id) == 8 and run.id.isalnum()
    records = read_clean(run.run_dir)
    assert records[0].kind == "run"
    assert records[0].body["run_id"] == run.id and records[0].body["project"] == "p"
    assert of_kind(records, "config") == [{"lr": 0.1}, {"bs": 32}]
    assert of_kind(records, "alert") == [{"title": "diverged", "text": "loss is nan",
                                          "level": "WARN"}]
    assert of_kind(records, "summary") == [{"best": 7}, {"loss": 1.0}]
    exit_body = of_kind(records, "exit")[0]
    assert exit_body["status"] == "finished" and exit_body["code"] == 0
    assert records[-1].kind == "exit" and exit_body["runtime"] >= 0


def test_step_semantics_match_wandb(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.log({"a": 1}, step=5)  # explicit step: accumulates until the step moves on
    run.log({"b": 2}, step=5)
    run.log({"c": 3}, step=6)  # commits step 5
    run.log({"d": 4})  # joins step 6 and commits it
    run.log({"e": 5}, commit=False)
    run.log({"f": 6})  # step 7
    with pytest.warns(StepWarning, match="lower than the current step"):
        run.log({"old": 1}, step=3)
    run.log({"old": 2}, step=2)  # warned once only (filterwarnings=error would raise)
    run.log({"g": 7}, step=9, commit=True)
    run.log({"h": 8}, step=10)  # pending at finish: committed by finish()
    run.finish()
    rows = history(read_clean(run.run_dir))
    assert rows == {5: {"a": 1, "b": 2}, 6: {"c": 3, "d": 4}, 7: {"e": 5, "f": 6},
                    9: {"g": 7}, 10: {"h": 8}}


def test_config_emits_only_changed_keys(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, config={"lr": 0.1, "opt": {"name": "adam"}}, **QUIET)
    run.config.bs = 32
    run.config.update({"lr": 0.1, "bs": 64})
    run.config["nan"] = float("nan")
    run.config["nan"] = float("nan")  # unchanged NaN: no record
    with pytest.raises(ValueError, match="allow_val_change"):
        run.config.update({"bs": 1}, allow_val_change=False)
    assert run.config.as_dict() == {"lr": 0.1, "opt": {"name": "adam"}, "bs": 64,
                                    "nan": run.config.nan}
    with pytest.raises(AttributeError):
        _ = run.config.missing
    run.finish()
    deltas = of_kind(read_clean(run.run_dir), "config")
    assert deltas[:3] == [{"lr": 0.1, "opt": {"name": "adam"}}, {"bs": 32}, {"bs": 64}]
    assert len(deltas) == 4 and list(deltas[3]) == ["nan"]


def test_summary_and_define_metric(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.define_metric("loss", summary="min")
    run.define_metric("val/*", step_metric="epoch", summary="max")
    run.define_metric("noise", summary="none", hidden=True)
    run.define_metric("m", summary="mean")
    for loss, acc, lr in [(3.0, 0.5, 1.0), (1.0, 0.9, 0.5), (2.0, 0.7, 0.25)]:
        run.log({"loss": loss, "val": {"acc": acc}, "lr": lr, "noise": 9, "m": loss})
    assert run.summary["loss"] == 1.0 and run.summary["val/acc"] == 0.9
    assert "noise" not in run.summary
    run.summary["best_epoch"] = 2
    run.summary.update({"note": "ok"})
    with pytest.raises(ValueError, match="summary"):
        run.define_metric("x", summary="median")
    run.finish()
    records = read_clean(run.run_dir)
    assert of_kind(records, "metric_def")[1] == {
        "name": "val/*", "step_metric": "epoch", "summary": "max", "hidden": False}
    assert of_kind(records, "metric_def")[2]["hidden"] is True
    sums = of_kind(records, "summary")
    assert sums[:2] == [{"best_epoch": 2}, {"note": "ok"}]
    assert sums[2] == {"loss": 1.0, "val/acc": 0.9, "lr": 0.25, "m": 2.0}


def test_save_policies_copy_into_files_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    work = tmp_path / "work"
    (work / "ckpt").mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "ckpt" / "a.pt").write_bytes(b"A" * 1000)
    (work / "ckpt" / "b.pt").write_bytes(b"B" * 10)
    (work / "end.txt").write_text("v1")
    (work / "live.txt").write_text("l1")
    run = logwriter.init(dir=tmp_path / "runs", **QUIET)
    assert run.save("ckpt/*.pt") == ["ckpt/a.pt", "ckpt/b.pt"]
    assert run.save(str(work / "end.txt"), policy="end") == ["end.txt"]
    assert run.save("live.txt", policy="live") == ["live.txt"]
    assert run.save(str(work / "ckpt" / "a.pt"), base_path="/nonexistent/x") == ["a.pt"]
    (work / "end.txt").write_text("v2-final")
    (work / "live.txt").write_text("l2-changed")
    with pytest.raises(ValueError, match="policy"):
        run.save("live.txt", policy="sometimes")
    run.finish()

    files = Path(run.run_dir) / "files"
    assert (files / "ckpt" / "a.pt").read_bytes() == b"A" * 1000
    assert (files / "end.txt").read_text() == "v2-final"
    assert (files / "live.txt").read_text() == "l2-changed"
    bodies = of_kind(read_clean(run.run_dir), "file")
    by_path: dict[str, list[dict]] = {}
    for b in bodies:
        by_path.setdefault(b["path"], []).append(b)
    a = by_path["ckpt/a.pt"][0]
    assert a == {"path": "ckpt/a.pt", "size": 1000, "policy": "now",
                 "sha256": hashlib.sha256(b"A" * 1000).hexdigest()}
    assert [b["sha256"] for b in by_path["live.txt"]] == [
        hashlib.sha256(b"l1").hexdigest(), hashlib.sha256(b"l2-changed").hexdigest()]
    assert by_path["end.txt"] == [{"path": "end.txt", "size": 8, "policy": "end",
                                   "sha256": hashlib.sha256(b"v2-final").hexdigest()}]
    # Nothing was written outside the run directory.
    assert sorted(os.listdir(tmp_path / "runs")) == [run.id]


def test_resume_continues_step_config_and_summary(tmp_path: Path) -> None:
    run = logwriter.init(id="resumable", dir=tmp_path, config={"lr": 1}, **QUIET)
    run.define_metric("loss", summary="min")
    for i in range(10):
        run.log({"loss": 10.0 - i})
    run.finish()
    with pytest.raises(RunDirError, match="resume"):
        logwriter.init(id="resumable", dir=tmp_path, **QUIET)
    with pytest.raises(RunDirError, match="must"):
        logwriter.init(id="nothere", dir=tmp_path, resume="must", **QUIET)

    again = logwriter.init(id="resumable", dir=tmp_path, resume=True, **QUIET)
    assert again.resumed and again.step == 10 and again.config.lr == 1
    again.log({"loss": 5.0})
    again.finish()
    records = read_clean(again.run_dir)
    segs = sorted(p.name for p in (Path(again.run_dir) / "log").glob("*.seg"))
    assert len(segs) == 2
    first_of_second = int(segs[1].split(".")[0])
    assert records[first_of_second].kind == "resume"
    assert records[first_of_second - 1].kind == "exit"
    assert history(records)[10] == {"loss": 5.0}
    # min stays 1.0 across the resume, so the second process has nothing new to emit
    assert of_kind(records, "summary") == [{"loss": 1.0}]
    assert of_kind(records, "config") == [{"lr": 1}]


def test_disabled_mode_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWAL_MODE", "disabled")
    monkeypatch.setenv("RUNWAL_DIR", str(tmp_path / "runs"))
    run = logwriter.init(config={"lr": 0.1})
    run.log({"a": 1})
    run.config.bs = 2
    run.summary["x"] = 1
    run.define_metric("a", summary="max")
    assert run.save("*.txt") == []
    run.alert("t", "x")
    assert run.config.lr == 0.1 and run.mode == "disabled"
    run.finish()
    assert os.listdir(tmp_path) == []


def test_online_mode_without_a_server_fails_before_any_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWAL_SERVER", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(NoServerError, match="needs a tracking server"):
        logwriter.init(dir=tmp_path, mode="online", **QUIET)
    assert logwriter.run is None and os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="mode"):
        logwriter.init(dir=tmp_path, mode="sideways", **QUIET)


def test_default_mode_is_hybrid_only_when_a_runwal_server_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logwriter.session.settings import InitArgs, resolve

    for name in ("RUNWAL_SERVER", "MLFLOW_TRACKING_URI", "RUNWAL_MODE"):
        monkeypatch.delenv(name, raising=False)
    assert resolve().mode == "offline"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve().mode == "offline"  # another tool's setting does not switch modes
    assert resolve(InitArgs(server="http://127.0.0.1:5000")).mode == "hybrid"
    monkeypatch.setenv("RUNWAL_SERVER", "http://127.0.0.1:5000")
    assert resolve().mode == "hybrid"
    assert resolve(InitArgs(mode="offline")).mode == "offline"
    monkeypatch.setenv("RUNWAL_MODE", "online")
    assert resolve().mode == "online"


def test_exception_in_with_block_marks_the_run_failed(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), \
            logwriter.init(dir=tmp_path, **QUIET) as run:
        run.log({"a": 1})
        raise RuntimeError("boom")
    exit_body = of_kind(read_clean(run.run_dir), "exit")[0]
    assert exit_body["status"] == "failed" and exit_body["code"] == 1
    with pytest.raises(RunFinishedError):
        run.log({"late": 1})


def test_console_and_system_stats_become_records(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from logwriter_util import read_run

    run = logwriter.init(dir=tmp_path, stats_interval=0.05)
    print("hello from the training loop")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if of_kind(read_run(run.run_dir)[0], "stats"):
            break
        time.sleep(0.05)
    run.finish()
    records = read_clean(run.run_dir)
    texts = [b["text"] for b in of_kind(records, "console") if b["stream"] == "stdout"]
    assert "hello from the training loop" in "".join(texts)
    stats = of_kind(records, "stats")
    assert stats and "cpu_utilization_percentage" in stats[0]
    assert "hello from the training loop" in capsys.readouterr().out


def test_init_again_finishes_the_previous_run(tmp_path: Path) -> None:
    first = logwriter.init(dir=tmp_path, **QUIET)
    first.log({"a": 1})
    second = logwriter.init(dir=tmp_path, **QUIET)
    assert logwriter.run is second and first.id != second.id
    second.finish()
    assert of_kind(read_clean(first.run_dir), "exit")[0]["status"] == "finished"
    assert history(read_clean(first.run_dir)) == {0: {"a": 1}}


def test_init_args_are_one_list() -> None:
    """init()'s signature, settings.InitArgs and Settings agree on every parameter."""
    import inspect

    from logwriter.session.settings import CONFIG_ARGS, InitArgs, Settings
    from logwriter.session.wandb_args import RECORDED_ARGS

    params = inspect.signature(logwriter.init).parameters
    assert list(params) == list(InitArgs._fields)
    assert {k: p.default for k, p in params.items()} == InitArgs._field_defaults
    typed = {k: getattr(t, "__forward_arg__", t) for k, t in InitArgs.__annotations__.items()}
    assert {k: p.annotation for k, p in params.items()} == typed  # the same type strings
    resolved_as = {"id": "run_id", "tensorboard": "sync_tensorboard",
                   **{name: "recorded" for name in RECORDED_ARGS}}
    for field in InitArgs._fields:
        if field not in CONFIG_ARGS:  # the Run takes them; they are no setting
            assert resolved_as.get(field, field) in Settings._fields, field


def test_import_logwriter_stays_light() -> None:
    """No dataclasses/inspect, no syncer or HTTP, no helper that init() loads lazily."""
    import subprocess
    import sys

    heavy = ["dataclasses", "inspect", "subprocess", "syncer", "httpx", "mlflow", "psutil",
             "pynvml", "zstandard", "schema.reader", "logwriter.session.syncproc",
             "logwriter.machine.metadata", "logwriter.machine.gitinfo",
             "logwriter.machine.monitor", "logwriter.machine.gpu"]
    code = f"import sys, logwriter; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


def test_finish_at_exit_records_the_status_without_warning(tmp_path: Path) -> None:
    """The protocol session/exithooks.py uses; finish() afterwards is a no-op, log() raises."""
    run = logwriter.init(dir=tmp_path, **QUIET)
    assert logwriter.run is run
    run.log({"a": 1})
    with pytest.raises(ValueError, match="status"):
        run.finish_at_exit(1, "exploded")
    run.finish_at_exit(143, "preempted", sync_wait=0.0)
    assert logwriter.run is None  # the facade's on_finish callback ran
    run.finish()
    with pytest.raises(RunFinishedError):
        run.log({"late": 1})
    exit_body = of_kind(read_clean(run.run_dir), "exit")[0]
    assert exit_body["status"] == "preempted" and exit_body["code"] == 143


def test_the_runs_public_seams_record_and_report_its_state(tmp_path: Path) -> None:
    """What artifacts, watch() and the integrations call instead of the Run's privates:
    record() queues a record, live/finished/ignores_calls() say what a call would do."""
    from schema.records import RecordType

    run = logwriter.init(dir=tmp_path, **QUIET)
    assert run.live and not run.finished and not run.ignores_calls()
    run.record(int(RecordType.ALERT), {"title": "t", "text": "x", "level": "INFO"})
    run.finish()
    assert run.finished and not run.live
    with pytest.raises(RunFinishedError):
        run.ignores_calls()
    with pytest.raises(RunFinishedError):
        run.record(int(RecordType.ALERT), {"title": "late", "text": "x", "level": "INFO"})
    alerts = of_kind(read_clean(run.run_dir), "alert")
    assert alerts == [{"title": "t", "text": "x", "level": "INFO"}]

    off = logwriter.init(dir=tmp_path, mode="disabled")
    assert off.ignores_calls() and not off.live and not off.finished
    off.record(int(RecordType.ALERT), {"title": "t", "text": "x", "level": "INFO"})
    off.finish()


def test_no_submodule_is_shadowed_by_a_facade_attribute() -> None:
    """``import logwriter.X as m`` gives module X for every X: the facade exports no
    attribute under a submodule's name (logwriter.config and logwriter.summary were
    modules replaced by the proxies). Read before importing X, which would set it."""
    import pkgutil
    import types

    for info in pkgutil.iter_modules(logwriter.__path__):
        exported = vars(logwriter).get(info.name)
        assert exported is None or (isinstance(exported, types.ModuleType)
                                    and exported.__name__ == f"logwriter.{info.name}"), (
            f"logwriter.{info.name} is {exported!r}, not the module")
