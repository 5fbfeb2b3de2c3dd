"""What a name, type, alias and entry path may be, checked on the caller's thread.

Names and types follow wandb's rule (letters, digits, ``-``, ``_``, ``.``; at
most 128 characters), which also keeps them safe as one component of the
syncer's ``artifacts/<name>/v<N>/`` path and of MLflow tag names. An alias may
not look like a version (``v3``): ``use_artifact("x:v3")`` must mean one thing.

Entry paths are relative POSIX paths with no ``.``/``..``/empty parts and no
backslash: a record read back from any run directory is checked again before
``download()`` writes anything, so a forged record cannot write outside the
download root.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from logwriter.artifacts.errors import ArtifactError

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
VERSION_RE = re.compile(r"v(\d{1,18})")
STORE_FILE_RE = re.compile(r"artifacts/[0-9a-f]{64}")
DEFAULT_TYPE = "unspecified"  # wandb's type for log_artifact(path) without type=


def check_name(value: Any, what: str = "name") -> str:
    if not isinstance(value, str):
        raise ArtifactError(f"runwal: artifact {what} must be a str, got "
                            f"{type(value).__name__}")
    if value in (".", "..") or not NAME_RE.fullmatch(value):
        raise ArtifactError(f"runwal: artifact {what} {value!r:.80} is not valid")
    return value


def clean_name(value: str) -> str:
    """A name derived from a file name (log_artifact(path)): invalid characters -> '_'."""
    out = re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:128].strip(".")
    return out or "artifact"


def check_aliases(aliases: Any) -> list[str]:
    """User aliases, checked, without duplicates, in the order given."""
    if aliases is None:
        return []
    items = [aliases] if isinstance(aliases, str) else list(aliases)
    out: list[str] = []
    for alias in items:
        check_name(alias, "alias")
        if VERSION_RE.fullmatch(alias):
            raise ArtifactError(f"runwal: artifact alias {alias!r} looks like a version; "
                                "versions are assigned by log_artifact()")
        if alias not in out:
            out.append(alias)
    return out


def check_entry_path(value: Any) -> str:
    """An entry's path inside the artifact (what download() writes under its root)."""
    if not isinstance(value, str) or not value:
        raise ArtifactError(f"runwal: artifact entry name {value!r:.80} must be a non-empty str")
    if "\\" in value or "\x00" in value or value.startswith("/"):
        raise ArtifactError(f"runwal: artifact entry name {value!r:.80} must be a relative "
                            "POSIX path")
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ArtifactError(f"runwal: artifact entry name {value!r:.80} has an empty, '.' or "
                            "'..' part")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ArtifactError(f"runwal: artifact entry name {value!r:.80} is not valid "
                            "text") from exc
    return str(PurePosixPath(value))
