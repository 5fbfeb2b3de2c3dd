"""Fixtures of the rich-value tests: a run to log into, its media records and files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import logwriter
from logwriter_util import QUIET, of_kind, read_clean


class Logged:
    """A finished run: its records, media records by key, and file access."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.records = read_clean(run_dir)
        self.media = of_kind(self.records, "media")

    def of(self, key: str) -> list[dict[str, Any]]:
        return [b for b in self.media if b["key"] == key]

    def item(self, key: str) -> dict[str, Any]:
        (body,) = self.of(key)
        assert "error" not in body, body
        (item,) = body["items"]
        return item

    def data(self, item: dict[str, Any]) -> bytes:
        """The bytes of an item's file, checked against its size and sha256."""
        data = (self.dir / "files" / item["file"]).read_bytes()
        assert len(data) == item["size"]
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert item["file"].endswith(f"/{item['sha256']}.{item['file'].rsplit('.', 1)[1]}")
        return data

    def media_files(self) -> list[Path]:
        return sorted(p for p in (self.dir / "files" / "media").rglob("*") if p.is_file())


@pytest.fixture
def log_run(tmp_path: Path) -> Iterator[Callable[..., Logged]]:
    """``log_run(call, call, ...)``: each call a dict for log() or a (dict, kwargs) pair."""
    runs: list[logwriter.Run] = []

    def go(*calls: Any, run_id: str = "media", resume: Any = None) -> Logged:
        run = logwriter.init(project="media", id=run_id, dir=tmp_path, mode="offline",
                             resume=resume, **QUIET)
        runs.append(run)
        for call in calls:
            data, kw = call if isinstance(call, tuple) else (call, {})
            run.log(data, **kw)
        run.finish()
        return Logged(Path(getattr(run, "run_dir", None) or run.dir))  # run.dir: files/ (wandb)

    yield go
    for run in runs:
        run.finish()
