"""Run-dir layout: what a directory that is no run is told (schema.layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema.errors import NotARunDir
from schema.layout import RunDir, foreign_run_hint


def test_another_tools_run_is_pointed_at_runwal_import(tmp_path: Path) -> None:
    tb = tmp_path / "CartPole__dqn__1"  # cleanrl's runs/<name> next to runwal's ./runs
    tb.mkdir()
    (tb / "events.out.tfevents.1796140624.host.1.0").write_bytes(b"")
    wb = tmp_path / "offline-run-20261201_101010-abc123"
    wb.mkdir()
    (wb / "run-abc123.wandb").write_bytes(b"")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotARunDir) as exc:
        RunDir.open(tb)
    want = f"(hint: it holds TensorBoard event files: `runwal import tensorboard {tb} "
    assert want in str(exc.value)
    with pytest.raises(NotARunDir) as exc:
        RunDir.open(wb)
    assert f"`runwal import wandb {wb} --into RUNS`" in str(exc.value)
    with pytest.raises(NotARunDir) as exc:
        RunDir.open(plain)
    assert exc.value.hint == NotARunDir.hint  # the default: pass a run directory
    assert foreign_run_hint(tmp_path / "missing") is None
