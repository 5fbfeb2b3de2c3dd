"""The wandb shim's surface under ``runwal run``: what version checks, framework
imports and the WANDB_* environment see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from logwriter_util import of_kind

SHIM = Path(__file__).resolve().parents[2] / "src" / "logwriter" / "wandb_compat"


def test_shim_says_one_wandb_version() -> None:
    """The dist-info next to the package and wandb.__version__ agree (importlib.metadata
    reads the one, scripts the other)."""
    (dist,) = SHIM.glob("wandb-*.dist-info")
    fields = dict(line.split(": ", 1) for line in (dist / "METADATA").read_text().splitlines()
                  if ": " in line)
    assert dist.name == f"wandb-{fields['Version']}.dist-info" and fields["Name"] == "wandb"
    source = (SHIM / "wandb" / "__init__.py").read_text()
    assert f'__version__ = "{fields["Version"]}"' in source


def test_shim_surface_and_wandb_environment(run_script: Any, tmp_path: Path) -> None:
    ran = run_script("shim_surface.py", env={
        "WANDB_PROJECT": "envp", "WANDB_ENTITY": "team", "WANDB_DIR": str(tmp_path / "wd"),
        "WANDB_SAVE_CODE": "true", "WANDB_NOTES": "from env"})
    (line,) = [ln for ln in ran.proc.stdout.splitlines() if ln.startswith("RUNINFO ")]
    out = json.loads(line[len("RUNINFO "):])
    assert out["metadata_version"] == out["module_version"] == "0.31.0"
    assert out["run_before"] and out["isinstance_run"] and out["not_disabled"]
    assert out["errors"] and out["config_error"] and out["generate_id"] == 8
    assert (out["project"], out["entity"], out["disabled"]) == ("envp", "team", False)
    run_dir = ran.only()
    assert run_dir.parent == tmp_path / "wd" / "wandb" and Path(out["dir"]) == run_dir / "files"
    assert ran.proc.stderr.count("wandb: WARNING twice") == 1
    assert "wandb: a line" in ran.proc.stderr
    records = ran.records()
    head = of_kind(records, "run")[0]
    assert head["notes"] == "from env" and head["tags"] == ["entity:team"]
    assert of_kind(records, "console") == []  # Settings(console="off")
    assert [b["path"] for b in of_kind(records, "file")] == ["shim_surface.py"]
    assert of_kind(records, "exit")[0] == {**of_kind(records, "exit")[0], "code": 1,
                                           "status": "preempted"}


def test_wandb_disabled_env_writes_nothing(run_script: Any, tmp_path: Path) -> None:
    ran = run_script("shim_surface.py", env={"WANDB_DISABLED": "true",
                                             "WANDB_DIR": str(tmp_path / "wd")})
    assert '"disabled": true' in ran.proc.stdout
    assert ran.run_dirs() == []


def test_wandb_api_names_scripts_use(run_script: Any) -> None:
    """wandb.Api and apis fail with one line naming runwal's commands; env, Error, restore,
    link_model, Molecule, run.status/display/config_static and lm-eval's printer work."""
    ran = run_script("wandb_api_surface.py", env={"WANDB_PROJECT": "apis"})
    (line,) = [ln for ln in ran.proc.stdout.splitlines() if ln.startswith("RUNINFO ")]
    out = json.loads(line[len("RUNINFO "):])
    assert out["env_project"] == "apis" and out["error_base"]
    assert "runwal ls" in out["api"] and "MlflowClient" in out["api"]
    assert "Molecule is not supported" in out["molecule"]
    assert out["restored"] == "kept"
    assert (out["display"], out["lr"], out["lr_item"]) == (False, 0.1, 0.1)
    assert out["status_total"] >= 1 and out["model"] == "clf"
    assert "wandb: printed by lm-eval's logger" in ran.proc.stderr
    assert [a["name"] for a in of_kind(ran.records(), "artifact")] == ["clf"]
