"""use_artifact() from the tracking server, when the runs directory does not have it.

It reads what the syncer uploads (syncer/sinks/mlflow/artifacts.py): version N
of artifact X logged by a run is ``artifacts/X/vN/`` among that MLflow run's
artifacts, with ``MANIFEST.json`` (the record's fields, entries without the
run-dir ``file``), and the run is tagged ``runwal.artifacts.logged`` =
``"X:v0, Y:v2"``. So, with plain MLflow REST calls (httpx, as the syncer):

1. the experiment named after this run's project;
2. its runs whose ``runwal.artifacts.logged`` tag names ``X:v``, newest
   first (at most MAX_RUNS);
3. ``X:vN``: the manifest of vN in the newest such run; an alias (``latest``
   by default): the manifests of those runs' versions of X, newest run first
   and, within a run, the version it logged last first, until one lists the
   alias (at most MAX_MANIFESTS fetched): the same answer as offline when
   the runs were synced in the order they ran;
4. ``download()`` fetches each file through the server's artifact proxy
   (``mlflow-artifacts:`` roots only; a server that stores artifacts
   elsewhere is a clear error) and checks its sha256, like the local copy.

Only the modes that talk to the server (online, hybrid) do this; offline mode
never makes a request, and its not-found error says so. Every request has a
short timeout: a server that does not answer is an ArtifactNotFound that
says so, never a hang.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from logwriter.artifacts.errors import ArtifactError, ArtifactNotFound
from logwriter.artifacts.names import VERSION_RE
from schema.uri import public_uri

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
LOGGED_TAG = "runwal.artifacts.logged"  # the syncer's names (sinks/mlflow/artifacts.py)
RUN_ID_TAG = "runwal.run_id"
MAX_RUNS = 200
MAX_MANIFESTS = 50
CONNECT_TIMEOUT = 5.0
TIMEOUT = 30.0
_PATH_OK = re.compile(r"[^\w\-. /]")


def safe_part(name: str) -> str:
    """The artifact path the syncer stores an entry under (its ``safe_part``; a test
    pins the two together)."""
    parts = [_PATH_OK.sub("_", p) for p in str(name).split("/")]
    parts = ["_" if p in ("", ".", "..") else p for p in parts]
    return "/".join(parts) or "_"


@dataclass
class RemoteHit:
    """One version found on the server: its manifest and where its files are."""

    manifest: dict[str, Any]
    version: int
    source_run: str | None  # the runwal run id of the MLflow run that holds it
    base: str  # URL path of artifacts/<name>/v<N> under the artifact proxy


class Server:
    """A short-lived httpx client for one use_artifact() (and its downloads)."""

    def __init__(self, uri: str) -> None:
        import httpx  # only a use_artifact() that goes to the server pays for it

        parts = urlsplit(uri)
        auth: Any = None
        if parts.username is not None:
            auth = httpx.BasicAuth(parts.username, parts.password or "")
            netloc = parts.hostname or ""
            if ":" in netloc:
                netloc = f"[{netloc}]"
            if parts.port:
                netloc += f":{parts.port}"
            uri = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        headers = {"User-Agent": "runwal-logwriter"}
        if os.environ.get("MLFLOW_TRACKING_TOKEN"):
            headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
        elif auth is None and os.environ.get("MLFLOW_TRACKING_USERNAME"):
            auth = httpx.BasicAuth(os.environ["MLFLOW_TRACKING_USERNAME"],
                                   os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self.uri = uri.rstrip("/")
        self.shown = public_uri(uri)
        self._httpx = httpx
        self.client = httpx.Client(timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
                                   auth=auth, headers=headers)

    def close(self) -> None:
        self.client.close()

    def _trouble(self, what: str, why: str) -> ArtifactNotFound:
        return ArtifactNotFound(f"runwal: use_artifact(): the tracking server {self.shown} "
                                f"could not be asked ({what}: {why})",
                                hint="check that the server is up, or log the artifact in "
                                "a run of this runs directory")

    def get_json(self, path: str, params: dict[str, str] | None = None,
                 body: Any = None) -> dict[str, Any] | None:
        """The JSON answer, None for 404 / RESOURCE_DOES_NOT_EXIST."""
        try:
            if body is None:
                resp = self.client.get(self.uri + path, params=params)
            else:
                resp = self.client.post(self.uri + path, json=body)
        except self._httpx.HTTPError as exc:
            raise self._trouble(path, f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._trouble(path, f"HTTP {resp.status_code} {resp.text[:200]}")
        try:
            out = resp.json()
        except ValueError as exc:
            raise self._trouble(path, "an answer that is not JSON") from exc
        return out if isinstance(out, dict) else None

    def fetch(self, path: str, dest: Path, sha256: str) -> None:
        """Stream one artifact to ``dest`` (temp + rename), checking its sha256."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".tmp-{os.getpid()}-{os.urandom(6).hex()}"
        digest = hashlib.sha256()
        try:
            with self.client.stream("GET", self.uri + path) as resp:
                if resp.status_code != 200:
                    raise ArtifactError(f"runwal: {self.shown}{path}: HTTP {resp.status_code}",
                                        hint="the syncer may not have uploaded this file yet; "
                                        "`runwal sync` the producing run")
                with open(tmp, "xb") as fh:
                    for chunk in resp.iter_bytes(1 << 20):
                        digest.update(chunk)
                        fh.write(chunk)
            if digest.hexdigest() != sha256:
                raise ArtifactError(f"runwal: {self.shown}{path} has sha256 "
                                    f"{digest.hexdigest()[:12]}..., the manifest says "
                                    f"{sha256[:12]}...", hint="sync the producing run again")
            os.replace(tmp, dest)
        except self._httpx.HTTPError as exc:
            raise self._trouble(path, f"{type(exc).__name__}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def find_remote(server: Server, project: str, name: str, spec: str) -> RemoteHit | None:
    """The version ``spec`` (``vN`` or an alias) of ``name`` on the server, or None."""
    exp = server.get_json(f"{API}/experiments/get-by-name", params={"experiment_name": project})
    exp_id = ((exp or {}).get("experiment") or {}).get("experiment_id")
    if not isinstance(exp_id, str):
        return None
    runs = _runs(server, exp_id, name)
    m = VERSION_RE.fullmatch(spec)
    fetched = 0
    for run, versions in runs:
        for version in reversed(versions):  # the one it logged last first
            if m and version != int(m.group(1)):
                continue
            hit = _manifest(server, run, name, version)
            fetched += 1
            if hit is not None and (m or spec in (hit.manifest.get("aliases") or ())):
                return hit
            if fetched >= MAX_MANIFESTS:
                return None
    return None


def _runs(server: Server, exp_id: str, name: str) -> list[tuple[dict[str, Any], list[int]]]:
    """Runs of the experiment that logged ``name``, newest first, with the versions each
    logged (in the tag's order)."""
    like = name.replace("'", "''")
    body: dict[str, Any] = {"experiment_ids": [exp_id], "max_results": MAX_RUNS,
                            "filter": f"tags.`{LOGGED_TAG}` LIKE '%{like}:v%'",
                            "order_by": ["attributes.start_time DESC"]}
    found = server.get_json(f"{API}/runs/search", body=body) or {}
    out: list[tuple[dict[str, Any], list[int]]] = []
    for run in found.get("runs") or ():
        tags = {t.get("key"): t.get("value") for t in (run.get("data") or {}).get("tags") or ()}
        versions = [int(item.rsplit(":v", 1)[1]) for item in
                    str(tags.get(LOGGED_TAG) or "").split(", ")
                    if item.rsplit(":v", 1)[0] == name and item.rsplit(":v", 1)[-1].isdigit()]
        if versions:
            run["_tags"] = tags
            out.append((run, versions))
    return out


def _manifest(server: Server, run: dict[str, Any], name: str, version: int
              ) -> RemoteHit | None:
    info = run.get("info") or {}
    parts = urlsplit(str(info.get("artifact_uri") or ""))
    if parts.scheme != "mlflow-artifacts":
        raise ArtifactNotFound(f"runwal: use_artifact(): run {info.get('run_id')} on "
                               f"{server.shown} keeps its artifacts at "
                               f"{public_uri(str(info.get('artifact_uri')))!r}, which runwal "
                               "reads only through the server's artifact proxy",
                               hint="run the MLflow server with --serve-artifacts")
    base = (f"{ARTIFACTS_API}/{quote(parts.path.strip('/'))}/"
            f"{quote(f'artifacts/{safe_part(name)}/v{version}')}")
    try:
        resp = server.client.get(server.uri + base + "/MANIFEST.json")
    except server._httpx.HTTPError as exc:
        raise server._trouble(base, f"{type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        return None
    try:
        manifest = json.loads(resp.content)
    except ValueError:
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != version:
        return None
    source = run["_tags"].get(RUN_ID_TAG)
    return RemoteHit(manifest, version, source if isinstance(source, str) else None, base)
