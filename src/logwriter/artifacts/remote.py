"""use_artifact() from the tracking server, when the runs directory does not have it.

Only the modes that talk to the server (online, hybrid) do this, and not from
the training process: reading MLflow is the syncer's work, so this module runs
``runwal artifact get`` as a child process (``python -m syncer.cli artifact
get NAME:SPEC --project P --json``, built by `schema.artifact_protocol`, which
also says what the child answers) and maps its one JSON answer line. The
training process never makes an HTTP request and never imports the syncer;
where versions live on the server and how aliases resolve there is
``syncer/sinks/mlflow/artifactlookup.py``'s business.

* `find_remote`: the version (``vN``) or alias of a name in the experiment
  named after the run's project: a `RemoteHit` (the manifest, the runwal run
  that logged it, the MLflow run that holds it), or None when the server has
  none;
* `fetch`: download() and file(): one child per call, ``--run`` pinned to
  that MLflow run and ``--into`` the download root; the child checks each
  file's sha256 before renaming it into place, and this module checks it
  again, like the copy out of a local run.

The server URI goes to the child as ``--to``, or in its environment
(RUNWAL_SERVER) when it carries credentials; messages show it without them.
Every child has a timeout (`LOOKUP_TIMEOUT`; a download adds time for its
bytes): a child that cannot start, dies or does not finish is an
ArtifactNotFound (lookup) or ArtifactError (download) that says so, never a
hang. offline mode never runs it, and its not-found error says so.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logwriter.artifacts.errors import ArtifactError, ArtifactNotFound
from logwriter.artifacts.manifest import Entry
from schema import artifact_protocol as protocol
from schema.uri import public_uri

LOOKUP_TIMEOUT = 120.0  # seconds for the whole child: start, lookup, answer
DEADLINE = 5.0  # seconds the child retries one failing request (a server that is down)
DOWNLOAD_RATE = 256 << 10  # bytes/s a download may be as slow as before it times out
SERVER_HINT = "check that the server is up, or log the artifact in a run of this runs directory"


@dataclass
class RemoteHit:
    """One version found on the server: its manifest and where its files are."""

    manifest: dict[str, Any]
    version: int
    source_run: str | None  # the runwal run id of the MLflow run that holds it
    server_run: str  # that MLflow run's id (a download asks it again)
    where: str  # the version's directory on the server, without credentials


def find_remote(uri: str, project: str, name: str, spec: str) -> RemoteHit | None:
    """Version ``spec`` (``vN`` or an alias) of ``name`` on the server, or None."""
    asked = f"{name}:{spec}"
    cmd, env = protocol.command(asked, project, uri, deadline=DEADLINE)
    answer = _run(cmd, env, LOOKUP_TIMEOUT, lambda why, hint: ArtifactNotFound(
        f"runwal: use_artifact({asked!r}): asking the tracking server {public_uri(uri)} "
        f"failed: {why}", hint=hint or SERVER_HINT))
    if answer.status == protocol.NOT_FOUND:
        return None
    if answer.version < 0 or answer.name != name:
        raise ArtifactNotFound(f"runwal: use_artifact({asked!r}): `runwal artifact get` "
                               f"answered {answer.name}:v{answer.version}", hint=SERVER_HINT)
    return RemoteHit(answer.manifest, answer.version, answer.source_run, answer.server_run,
                     answer.where)


def fetch(uri: str, project: str, name: str, hit: RemoteHit, digest: str,
          entries: list[Entry], root: Path) -> None:
    """Download file ``entries`` of ``hit`` to ``root/<entry path>``, each sha256-checked."""
    cmd, env = protocol.command(f"{name}:v{hit.version}", project, uri, deadline=DEADLINE,
                                server_run=hit.server_run, into=str(root),
                                paths=[e.path for e in entries])
    timeout = LOOKUP_TIMEOUT + sum(e.size or 0 for e in entries) / DOWNLOAD_RATE
    shown = f"{name}:v{hit.version}"
    answer = _run(cmd, env, timeout, lambda why, hint: ArtifactError(
        f"runwal: download of {shown} from {public_uri(uri)} failed: {why}",
        hint=hint or "`runwal sync` the producing run, or check that the server is up"))
    if answer.status == protocol.NOT_FOUND:
        raise ArtifactError(f"runwal: {shown} is no longer on {public_uri(uri)}: "
                            f"{answer.message}", hint="`runwal sync` the producing run again")
    if answer.manifest.get("digest") != digest:
        raise ArtifactError(f"runwal: {shown} on {public_uri(uri)} changed since "
                            "use_artifact() resolved it (another digest)",
                            hint="call use_artifact() again")
    for entry in entries:
        assert entry.sha256 is not None
        dest = root / entry.path
        got = _sha256(dest)
        if got != entry.sha256:
            raise ArtifactError(f"runwal: {hit.where}/{entry.path} arrived with sha256 "
                                f"{(got or 'no file')[:12]}..., the manifest says "
                                f"{entry.sha256[:12]}...", path=str(dest),
                                hint="sync the producing run again")


def _run(cmd: list[str], env: dict[str, str], timeout: float,
         error: Callable[[str, str], ArtifactError]) -> protocol.Answer:
    """The child's answer: FOUND or NOT_FOUND; ``error(why, hint)`` raised otherwise."""
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise error(f"`runwal artifact get` gave no answer within {timeout:.0f}s", "") from None
    except OSError as exc:
        raise error(f"`runwal artifact get` cannot start: {exc}", "check the Python "
                    "environment (runwal must be installed where the training runs)") from None
    answer = protocol.parse_answer(proc.stdout.decode("utf-8", "replace"))
    if answer is None:
        said = [ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines()]
        said = [ln for ln in said if ln]
        raise error(f"`runwal artifact get` ended (status {proc.returncode}) without an "
                    "answer" + (f": {said[-1][:300]}" if said else ""), "")
    if answer.status == protocol.ERROR:
        raise error(answer.message, answer.hint)
    return answer


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
