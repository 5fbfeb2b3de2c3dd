"""Artifacts read back from the server: what ``runwal artifact get`` (and so the SDK's
use_artifact() in online and hybrid modes) finds among what the syncer uploaded.

It reads the layout `syncer.sinks.mlflow.artifacts` writes: version N of
artifact X logged by a run is ``artifacts/<safe_part(X)>/vN/`` among that
MLflow run's artifacts, with ``MANIFEST.json``, and the run is tagged
`LOGGED_TAG` = ``"X:v0, Y:v2"``. So, over the syncer's REST client:

1. the experiment named after the project (`find`);
2. its active runs whose `LOGGED_TAG` names ``X:v``, newest first (at most
   `MAX_RUNS`), or the one MLflow run ``--run`` names;
3. ``X:vN``: the manifest of vN in the newest such run; an alias (``latest``
   by default): the manifests of those runs' versions of X, newest run first
   and, within a run, the version it logged last first, until one lists the
   alias (at most `MAX_MANIFESTS` fetched): the same answer as the SDK's
   offline resolution when the runs were synced in the order they ran;
4. `download` fetches each file entry through the server's artifact proxy
   (``mlflow-artifacts:`` roots only; `ArtifactsUnsupported` otherwise) to
   ``DIR/<entry path>``, temp file + rename once its sha256 and size match
   the manifest.

Nothing found is `NotOnServer` (exit 1), saying what the server has instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from schema.uri import public_uri
from syncer.errors import ArtifactsUnsupported, DownloadFailed, NotOnServer, SyncError
from syncer.sinks.mlflow.artifacts import LOGGED_TAG
from syncer.sinks.mlflow.media import safe_part
from syncer.sinks.mlflow.rest import ARTIFACTS_API, MlflowRest
from syncer.sinks.mlflow.runs import RUN_ID_TAG
from syncer.sinks.mlflow.sink import artifact_root

MAX_RUNS = 200
MAX_MANIFESTS = 50
DEFAULT_SPEC = "latest"
VERSION_RE = re.compile(r"v(\d{1,18})")  # the ``v<N>`` artifacts.py writes
MANIFEST = "MANIFEST.json"


@dataclass
class Found:
    """One version on the server: its manifest and where its files are."""

    name: str
    version: int
    manifest: dict[str, Any]
    source_run: str | None  # the runwal run id of the MLflow run that holds it
    server_run: str  # that MLflow run's id
    root: str  # its artifact root under the proxy, e.g. ``1/<run id>/artifacts``

    @property
    def base(self) -> str:
        """The version's directory among the run's artifacts (artifacts.py's layout)."""
        return f"artifacts/{safe_part(self.name)}/v{self.version}"

    def where(self, uri: str) -> str:
        """The version's directory on the server, without credentials."""
        return f"{public_uri(uri)}{ARTIFACTS_API}/{self.root}/{self.base}"


def split_spec(text: str) -> tuple[str, str]:
    """``NAME[:VERSION|:ALIAS]`` -> (name, spec), the spec ``latest`` when absent."""
    name, sep, spec = text.partition(":")
    return name, spec if sep else DEFAULT_SPEC


def find(rest: MlflowRest, project: str | None, name: str, spec: str, *,
         server_run: str | None = None) -> Found:
    """Version ``spec`` (``vN`` or an alias) of ``name`` in experiment ``project`` (or
    in MLflow run ``server_run``); `NotOnServer` when there is none."""
    shown = public_uri(rest.uri)
    if server_run is not None:
        run = rest.get_run(server_run)
        runs = _logged([run] if run is not None else [], name)
        where = f"MLflow run {server_run} on {shown}"
        if run is None:
            raise NotOnServer(f"{shown} has no MLflow run {server_run}")
        if not runs:
            raise NotOnServer(f"{where} logged no artifact named {name!r}")
    else:
        exp = rest.get_experiment_by_name(project or "")
        exp_id = (exp or {}).get("experiment_id")
        if exp_id is None:
            raise NotOnServer(f"{shown} has no experiment {project!r}")
        found = rest.search_runs(str(exp_id), _filter(name), page_size=MAX_RUNS,
                                 newest_first=True)
        runs = _logged(found, name)
        where = f"experiment {project!r} on {shown}"
    if not runs:
        raise NotOnServer(f"no run of {where} logged an artifact named {name!r}")
    m = VERSION_RE.fullmatch(spec)
    fetched = 0
    for run, versions in runs:
        for version in reversed(versions):  # the one it logged last first
            if m and version != int(m.group(1)):
                continue
            hit = _manifest(rest, run, name, version)
            fetched += 1
            if hit is not None and (m or spec in (hit.manifest.get("aliases") or ())):
                return hit
            if fetched >= MAX_MANIFESTS:
                raise NotOnServer(f"no {spec!r} of {name!r} among the {MAX_MANIFESTS} newest "
                                  f"versions in {where}")
    have = sorted({v for _, versions in runs for v in versions})
    raise NotOnServer(f"no {spec!r} of {name!r} in {where}: its runs logged "
                      + ", ".join(f"v{v}" for v in have))


def _filter(name: str) -> str:
    """Runs whose `LOGGED_TAG` may name ``name`` (the tag is parsed exactly after). MLflow
    filter strings have no escapes: a name no quote can hold matches every tagged run."""
    for quote in ("'", '"'):
        if quote not in name and "\\" not in name:
            return f"tags.`{LOGGED_TAG}` LIKE {quote}%{name}:v%{quote}"
    return f"tags.`{LOGGED_TAG}` LIKE '%:v%'"


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value", "")) for t in
            (run.get("data") or {}).get("tags") or () if isinstance(t, dict)}


def _logged(runs: list[dict[str, Any]], name: str) -> list[tuple[dict[str, Any], list[int]]]:
    """The runs that logged ``name``, with the versions each logged (the tag's order)."""
    out: list[tuple[dict[str, Any], list[int]]] = []
    for run in runs:
        versions = []
        for item in _tags(run).get(LOGGED_TAG, "").split(", "):
            logged, _, version = item.rpartition(":v")
            if logged == name and version.isdigit():
                versions.append(int(version))
        if versions:
            out.append((run, versions))
    return out


def _manifest(rest: MlflowRest, run: dict[str, Any], name: str, version: int) -> Found | None:
    info = run.get("info") or {}
    server_run = str(info.get("run_id") or info.get("run_uuid") or "")
    artifact_uri = str(info.get("artifact_uri") or "")
    root = artifact_root(artifact_uri)
    if root is None:
        raise ArtifactsUnsupported(f"MLflow run {server_run} on {public_uri(rest.uri)} keeps "
                                   f"its artifacts at {public_uri(artifact_uri)!r}, which "
                                   "runwal reads only through the server's artifact proxy")
    hit = Found(name, version, {}, None, server_run, root)
    manifest = rest.get_artifact_json(root, f"{hit.base}/{MANIFEST}")
    if manifest is None or manifest.get("version") != version:
        return None
    hit.manifest = manifest
    hit.source_run = _tags(run).get(RUN_ID_TAG)
    return hit


def file_entries(found: Found, paths: list[str] | None = None) -> list[dict[str, Any]]:
    """The manifest's file entries (references are listed, never fetched), or those of
    ``paths``; `DownloadFailed` for a path the manifest has no file entry for."""
    entries = [e for e in found.manifest.get("entries") or ()
               if isinstance(e, dict) and "ref" not in e]
    if paths is None:
        return entries
    by_path = {e.get("path"): e for e in entries}
    missing = [p for p in paths if p not in by_path]
    if missing:
        raise DownloadFailed(f"{found.name}:v{found.version} has no file entry {missing[0]!r}",
                             hint="`runwal artifact get NAME:vN` lists the entries")
    return [by_path[p] for p in paths]


def download(rest: MlflowRest, found: Found, into: Path,
             paths: list[str] | None = None) -> list[str]:
    """Fetch the file entries (all, or ``paths``) to ``into/<entry path>``, each checked
    against the manifest's sha256 and size; the entry paths written."""
    entries = file_entries(found, paths)
    plan = [(entry, _safe_dest(into, entry, found)) for entry in entries]
    written = []
    for entry, dest in plan:
        _fetch(rest, found, entry, dest)
        written.append(str(entry["path"]))
    return written


def _safe_dest(into: Path, entry: dict[str, Any], found: Found) -> Path:
    """Where an entry goes; `DownloadFailed` for a path that would leave ``into``."""
    path, sha = entry.get("path"), entry.get("sha256")
    bad = (not isinstance(path, str) or not path or path.startswith("/") or "\\" in path
           or "\x00" in path or any(p in ("", ".", "..") for p in path.split("/")))
    if bad or not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise DownloadFailed(f"the manifest of {found.name}:v{found.version} has an entry "
                             f"{path!r:.80} that is no relative path with a sha256",
                             hint="the manifest is damaged: sync the producing run again")
    return into.joinpath(*PurePosixPath(str(path)).parts)


def _fetch(rest: MlflowRest, found: Found, entry: dict[str, Any], dest: Path) -> None:
    path, sha256, size = str(entry["path"]), str(entry["sha256"]), entry.get("size")
    remote = f"{found.base}/{safe_part(path)}"
    tmp = dest.parent / f".tmp-{os.getpid()}-{os.urandom(6).hex()}"
    digest = hashlib.sha256()
    got = 0
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as fh:
            def write(chunk: bytes) -> None:
                nonlocal got
                digest.update(chunk)
                got += len(chunk)
                fh.write(chunk)

            try:
                rest.get_artifact(found.root, remote, write)
            except SyncError as exc:
                if getattr(exc, "status", 0) != 404:
                    raise
                raise DownloadFailed(f"{found.where(rest.uri)}/{safe_part(path)} is not on "
                                     "the server") from None
        if digest.hexdigest() != sha256 or (type(size) is int and got != size):
            raise DownloadFailed(f"{found.where(rest.uri)}/{safe_part(path)} has sha256 "
                                 f"{digest.hexdigest()[:12]}... ({got} bytes), the manifest "
                                 f"says {sha256[:12]}...",
                                 hint="sync the producing run again")
        os.replace(tmp, dest)
    except OSError as exc:
        raise DownloadFailed(f"cannot write {dest}: {exc.strerror or exc}",
                             hint="check that the directory is writable and has room") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
