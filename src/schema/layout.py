"""Where things live inside a run directory.

::

    runs/<run_id>/
      run.json          identity, written once atomically (RUN_JSON_KEYS)
      log/              WAL segments <base_seq:020d>.seg, append-only
      files/            user files saved with run.save(), referenced by FILE records
      sync/<sink>.json  syncer checkpoints; never written by the SDK

A run directory is self-contained: copy it anywhere and it syncs the same.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.errors import NotARunDir
from schema.segment import FORMAT_VERSION, list_segments

RUN_JSON = "run.json"
LOG_DIR = "log"
FILES_DIR = "files"
SYNC_DIR = "sync"
RUN_JSON_KEYS = ("run_id", "project", "name", "created", "format")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """A RunDir for an existing run; NotARunDir with a hint otherwise."""
        p = Path(path)
        if not p.exists():
            raise NotARunDir("no such directory", path=str(p))
        if not p.is_dir():
            raise NotARunDir("not a directory", path=str(p))
        if not (p / RUN_JSON).is_file() and not (p / LOG_DIR).is_dir():
            raise NotARunDir("not a runwal run directory (no run.json, no log/)", path=str(p))
        return cls(p)

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def log_dir(self) -> Path:
        return self.path / LOG_DIR

    @property
    def files_dir(self) -> Path:
        return self.path / FILES_DIR

    @property
    def sync_dir(self) -> Path:
        return self.path / SYNC_DIR

    def segments(self) -> list[Path]:
        return list_segments(self.log_dir)

    def identity(self) -> dict[str, Any]:
        """run.json contents; falls back to the directory name if it is missing."""
        try:
            data = json.loads(self.run_json.read_text())
        except FileNotFoundError:
            return {"run_id": self.path.name, "format": FORMAT_VERSION}
        except (OSError, ValueError) as exc:
            raise NotARunDir(f"unreadable run.json: {exc}", path=str(self.run_json)) from exc
        if not isinstance(data, dict):
            raise NotARunDir("run.json is not an object", path=str(self.run_json))
        return data


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return (p / RUN_JSON).is_file() or (p / LOG_DIR).is_dir()
