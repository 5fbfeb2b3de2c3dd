"""How ``artifact`` and ``artifact_use`` records become MLflow artifacts and tags (pure).

MLflow has no versioned artifacts of its own (its model registry is for
models only), so a runwal artifact version is a directory of the run's
artifacts, and tags say which versions the run logged and used:

================  ==============================================================
record            MLflow
================  ==============================================================
artifact          each entry with a file: ``artifacts/<name>/v<N>/<path>`` (the
                  bytes of ``files/<entry.file>``, content-addressed in the run
                  dir; a file the server already lists there with the same size
                  is not sent again, so logging the same version twice uploads
                  nothing new); then ``artifacts/<name>/v<N>/MANIFEST.json``:
                  ``{"name", "type", "version", "digest", "aliases",
                  "description", "metadata", "entries"}``, entries as
                  ``{"path", "size", "sha256"}`` or ``{"path", "ref"}`` (a
                  reference is listed in the manifest only; a missing file is
                  a `Rejection` and the manifest still lists it). Run tag
                  ``runwal.artifacts.logged`` = ``"name:v0, other:v2"`` (every
                  version this run logged, in order)
artifact_use      run tag ``runwal.artifacts.used`` = ``"name:v1 (run abc123),
                  ..."``: the version resolved and the run that logged it
                  (``(run ?)`` when unknown)
================  ==============================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from schema.records import Record
from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.media import Mapped, Upload, safe_part

LOGGED_TAG = "runwal.artifacts.logged"
USED_TAG = "runwal.artifacts.used"
MAX_NAMES = 1000  # versions kept in the checkpoint per tag (the tag holds 8000 chars)


@dataclass
class ArtifactState:
    """Persists between passes: the versions the two tags list."""

    logged: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"logged": list(self.logged), "used": list(self.used)}

    @classmethod
    def from_json(cls, data: Any) -> ArtifactState:
        data = data if isinstance(data, dict) else {}
        return cls(logged=[str(x) for x in data.get("logged") or ()],
                   used=[str(x) for x in data.get("used") or ()])


def _version(body: dict[str, Any]) -> int | None:
    v = body.get("version")
    return v if type(v) is int and v >= 0 else None


def _add(names: list[str], name: str) -> str:
    if name not in names:
        names.append(name)
        del names[:-MAX_NAMES]
    return ", ".join(names)


def manifest(body: dict[str, Any], version: int) -> dict[str, Any]:
    """MANIFEST.json of one version: the record's fields, entries without run-dir paths."""
    entries = []
    for e in body.get("entries") or ():
        if not isinstance(e, dict):
            continue
        if "ref" in e:
            entries.append({"path": e.get("path"), "ref": e.get("ref")})
        else:
            entries.append({"path": e.get("path"), "size": e.get("size"),
                            "sha256": e.get("sha256")})
    return {"name": body.get("name"), "type": body.get("type"), "version": version,
            "digest": body.get("digest"), "aliases": list(body.get("aliases") or ()),
            "description": body.get("description"), "metadata": body.get("metadata") or {},
            "entries": entries}


def map_artifact(rec: Record, state: ArtifactState) -> Mapped:
    out = Mapped()
    body = rec.body if isinstance(rec.body, dict) else {}
    name, version = body.get("name"), _version(body)
    if not isinstance(name, str) or not name or version is None:
        out.rejected.append(Rejection(rec.seq, Refused.ARTIFACT, str(name or ""),
                                      "artifact record without a name or a version"))
        return out
    base = f"artifacts/{safe_part(name)}/v{version}"
    for e in body.get("entries") or ():
        if not isinstance(e, dict) or "ref" in e:
            continue
        path, source, size = e.get("path"), e.get("file"), e.get("size")
        if not isinstance(path, str) or not isinstance(source, str):
            out.rejected.append(Rejection(rec.seq, Refused.FILE, f"{name}:{path}",
                                          "artifact entry without a path and a file"))
            continue
        out.uploads.append(Upload(rec.seq, f"{base}/{safe_part(path)}", source=source,
                                  size=size if type(size) is int else None, dedupe=True))
    doc = json.dumps(manifest(body, version), indent=1, sort_keys=True, default=str)
    out.uploads.append(Upload(rec.seq, f"{base}/MANIFEST.json", data=doc.encode()))
    out.tags[LOGGED_TAG] = _add(state.logged, f"{name}:v{version}")
    return out


def map_artifact_use(rec: Record, state: ArtifactState) -> Mapped:
    out = Mapped()
    body = rec.body if isinstance(rec.body, dict) else {}
    name, version = body.get("name"), _version(body)
    if not isinstance(name, str) or not name or version is None:
        out.rejected.append(Rejection(rec.seq, Refused.TAG, USED_TAG,
                                      "artifact_use record without a name or a version"))
        return out
    source = body.get("source_run")
    out.tags[USED_TAG] = _add(state.used, f"{name}:v{version} (run {source or '?'})")
    return out
