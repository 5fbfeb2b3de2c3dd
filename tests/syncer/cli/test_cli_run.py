"""`runwal run -- python script.py`: unchanged `import wandb` scripts, as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from syncer.cli.run import shim_dir

PLAIN = """\
import wandb
wandb.init(project="p", config={"lr": 0.1})
for i in range(5):
    wandb.log({"loss": 1 / (i + 1)})
wandb.summary["best"] = 1
wandb.finish()
"""


def runwal(*args: object, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("WANDB_", "RUNWAL_"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "syncer.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=full, cwd=cwd)


def run_script(tmp_path: Path, source: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(source)
    return runwal("run", "--dir", tmp_path / "runs", "--", sys.executable, script,
                  env=env, cwd=tmp_path)


def dump(run_dir: Path) -> list[dict[str, Any]]:
    proc = runwal("dump", run_dir)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def only_run(tmp_path: Path) -> Path:
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_plain_wandb_script_logs_a_finished_run(tmp_path: Path) -> None:
    proc = run_script(tmp_path, PLAIN)
    assert proc.returncode == 0, proc.stderr
    recs = dump(only_run(tmp_path))
    by_type = lambda t: [r for r in recs if r["type"] == t]  # noqa: E731
    assert by_type("run")[0]["project"] == "p"
    assert {"lr": 0.1} in [r["data"] for r in by_type("config")]
    hist = by_type("history")
    assert [(r["step"], r["data"]["loss"]) for r in hist] == [
        (i, 1 / (i + 1)) for i in range(5)]
    assert any(r["data"].get("best") == 1 for r in by_type("summary"))
    assert [(r["code"], r["status"]) for r in by_type("exit")] == [(0, "finished")]


def test_wandb_env_vars_are_honoured(tmp_path: Path) -> None:
    proc = run_script(tmp_path, PLAIN.replace('project="p", ', ""),
                      env={"WANDB_PROJECT": "envproj", "WANDB_RUN_ID": "abc123",
                           "WANDB_TAGS": "a, b", "WANDB_RUN_GROUP": "g"})
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run(tmp_path)
    assert run_dir.name == "abc123"
    head = dump(run_dir)[0]
    assert (head["project"], head["tags"], head["group"]) == ("envproj", ["a", "b"], "g")


def test_wandb_only_init_arguments_do_not_raise(tmp_path: Path) -> None:
    source = """\
import wandb
assert wandb.run is None and wandb.login() is True
run = wandb.init(project="p", entity="me", reinit=True, save_code=True, anonymous="allow",
                 settings=wandb.Settings(start_method="thread"), resume="auto", mode="online",
                 config={"a": 1, "b": 2}, config_exclude_keys=["b"], monitor_gym=True,
                 sync_tensorboard=False)
assert wandb.run is run
wandb.log({"x": 1})
wandb.log({"img": wandb.Image([[0, 255]], caption="c"), "h": wandb.Histogram([1.0, 2.0])})
try:
    wandb.Object3D(None)
except NotImplementedError as exc:
    assert "not supported" in str(exc)
else:
    raise AssertionError("wandb.Object3D did not raise")
wandb.finish()
assert wandb.run is None
"""
    proc = run_script(tmp_path, source)
    assert proc.returncode == 0, proc.stderr
    recs = dump(only_run(tmp_path))
    assert recs[0]["tags"] == ["entity:me"] and recs[0]["mode"] == "offline"
    config: dict[str, Any] = {}
    for r in recs:
        if r["type"] == "config":
            config.update(r["data"])
    assert config["a"] == 1 and "b" not in config
    assert config["_wandb/settings"] == {"start_method": "thread"}
    assert config["_wandb/anonymous"] == "allow" and config["_wandb/monitor_gym"] is True
    assert [r["path"] for r in recs if r["type"] == "file"] == ["script.py"]
    assert [(r["key"], r["kind"], r["step"]) for r in recs if r["type"] == "media"] == [
        ("img", "image", 1), ("h", "histogram", 1)]


def test_child_exit_code_is_passed_through(tmp_path: Path) -> None:
    proc = run_script(tmp_path, "import sys\nsys.exit(3)\n")
    assert proc.returncode == 3, proc.stderr


def test_no_command_or_unknown_command_is_one_error_line(tmp_path: Path) -> None:
    for args in (("run",), ("run", "--", "no-such-command-runwal")):
        proc = runwal(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("runwal: error: ") and proc.stderr.count("\n") == 1
        assert "Traceback" not in proc.stderr


def test_shim_is_not_on_this_process_path() -> None:
    shim = os.path.realpath(shim_dir())
    assert os.path.isfile(os.path.join(shim, "wandb", "__init__.py"))
    assert not os.path.exists(os.path.join(shim, "__init__.py"))
    assert shim not in {os.path.realpath(p) for p in sys.path if p}
    assert "logwriter.wandb_compat" not in sys.modules


def test_sigterm_is_forwarded_to_the_child(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = tmp_path / "script.py"
    script.write_text(f"""\
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
open({str(ready)!r}, "w").close()
time.sleep(60)
""")
    proc = subprocess.Popen([sys.executable, "-m", "syncer.cli", "run", "--", sys.executable,
                             str(script)], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 7
    finally:
        proc.kill()
        proc.wait()


SHARED = """\
import os, time, wandb
rank, id_file = int(os.environ["RANK"]), os.environ["ID_FILE"]
if rank == 0:  # wandb's example: the primary makes the run and hands its id on
    run = wandb.init(project="p", settings=wandb.Settings(
        mode="shared", x_label="rank_0", x_primary=True))
    with open(id_file + ".tmp", "w") as fh:
        fh.write(run.id)
    os.replace(id_file + ".tmp", id_file)
else:
    while not os.path.exists(id_file):
        time.sleep(0.05)
    run = wandb.init(project="p", id=open(id_file).read(), settings=wandb.Settings(
        mode="shared", x_label=f"rank_{rank}", x_primary=False,
        x_update_finish_state=False))
for i in range(5):
    wandb.log({"loss": rank + i / 10})
wandb.finish()
"""


def test_wandbs_shared_mode_example_writes_one_run_under_runwal_run(tmp_path: Path) -> None:
    script = tmp_path / "shared.py"
    script.write_text(SHARED)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "syncer.cli", "run", "--dir", str(tmp_path / "runs"), "--",
         sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNWAL_"))},
             "RANK": str(rank), "ID_FILE": str(tmp_path / "id")}) for rank in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    run_dir = only_run(tmp_path)
    assert run_dir.name == (tmp_path / "id").read_text()
    rows = dump(run_dir)
    assert [r["data"]["loss"] for r in rows if r["type"] == "history" and "label" not in r] \
        == [i / 10 for i in range(5)]
    primary_run = rows[0]
    assert primary_run["stream"] == {"label": "rank_0", "primary": True, "rank": 0,
                                     "local_rank": None, "world_size": None, "node_rank": None}
    worker = [r for r in rows if r.get("label") == "rank_1"]
    assert [r["data"]["loss"] for r in worker if r["type"] == "history"] == [
        1 + i / 10 for i in range(5)]
    assert [r["status"] for r in worker if r["type"] == "exit"] == ["finished"]


def test_a_python_without_runwal_is_one_line_naming_the_interpreter(tmp_path: Path) -> None:
    """`runwal run -- python train.py` with runwal in a venv that is not activated: the
    system's python cannot import it; that was the child's ModuleNotFoundError traceback."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = bare / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import logwriter"],
                          capture_output=True).returncode != 0
    script = tmp_path / "train.py"
    script.write_text(PLAIN)
    proc = runwal("run", "--dir", tmp_path / "runs", "--", python, script, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"{python} is a Python without runwal" in line
    assert f"runwal run -- {sys.executable} {script}" in line
    assert not (tmp_path / "runs").exists()
