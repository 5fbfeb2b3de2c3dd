"""The bodies of ``Run.log_artifact``, ``Run.use_artifact`` and ``Run.log_model``.

log_artifact(), on the caller's thread, in order: check the arguments; build
the entries by copying (or linking) each source into the run's store (store.py:
one read of each file, hashed on the way); compute the digest; read the
sibling runs' records for the version (resolve.py); queue one ``artifact``
record, whose body is complete when queued, so the writer thread only packs
it. It is an explicit, rare call and the caller waits for the copy (about a
second per GB on a local disk; see bench/watch_bench.py); log() calls of
other threads and the writer go on meanwhile. The record body, in this order::

    {"name": str, "type": str, "version": int, "digest": hex str,
     "aliases": [str, ..., "latest"], "description": str | None, "metadata": map,
     "entries": [{"path", "size", "sha256", "file": "artifacts/<sha256>"}
                 | {"path", "ref"}, ...]}             # sorted by path

use_artifact() resolves offline (resolve.py), returns the producing record as
an Artifact whose ``download()`` reads the producing run's store, and queues
one ``artifact_use`` record. When the runs directory has no match and the
run is online or hybrid, it asks the tracking server for what the syncer
uploaded there, through a ``runwal artifact get`` child process (remote.py;
download() runs another one that fetches the files through the server's
artifact proxy, sha256 checked): the training process never makes an HTTP
request. The record::

    {"name", "type", "version": int, "digest", "source_run": run id | None,
     "asked": the string asked for, e.g. "data:latest"}
"""

from __future__ import annotations

import errno
import os
import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from logwriter.artifacts.artifact import Artifact
from logwriter.artifacts.errors import ArtifactError
from logwriter.artifacts.manifest import Entry, digest_of, entries_from_record
from logwriter.artifacts.names import DEFAULT_TYPE, check_aliases, check_name, clean_name
from logwriter.artifacts.resolve import (
    Logged,
    assign_version,
    find,
    not_found,
    parse_spec,
    run_id_of,
    scan,
)
from logwriter.artifacts.store import STORE_DIR, discard, ingest
from logwriter.errors import ArtifactWarning
from logwriter.session.settings import SERVER_MODES
from logwriter.values.convert import MAX_RECORD_BYTES
from logwriter.values.text import clean_text
from schema.atomic import make_dirs
from schema.layout import FILES_DIR
from schema.records import RecordType

# A full disk or quota: log_artifact() warns and returns the artifact unlogged.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

if TYPE_CHECKING:
    from logwriter.session.run import Run

_ARTIFACT = int(RecordType.ARTIFACT)
_USE = int(RecordType.ARTIFACT_USE)
LATEST = "latest"

# Records this process queued, per run, until the writer has them on disk: a scan
# right after log_artifact() must see them.
_pending: weakref.WeakKeyDictionary[Run, list[Logged]] = weakref.WeakKeyDictionary()
# One version assigned at a time in this process (not the Run's lock: log() goes on).
_version_lock = threading.Lock()


def log_artifact(run: Run, artifact_or_path: Any, name: str | None = None,
                 type: str | None = None, aliases: Any = None) -> Artifact:
    """See the module docstring; returns the Artifact with version/digest/aliases set."""
    art = _as_artifact(run, artifact_or_path, name, type)
    user_aliases = check_aliases(aliases)
    if run.ignores_calls():  # disabled, or a forked child: nothing is written
        return art
    if art.logged:
        raise ArtifactError(f"runwal: artifact {art.name}:{art.version} is already logged",
                            hint="build a new Artifact (the same files give the same version)")
    sources = art._sources
    if not sources:
        raise ArtifactError(f"runwal: artifact {art.name!r} has no entries",
                            hint="add_file(), add_dir(), add_reference() or new_file() first")
    estimate = sum(len(p.encode("utf-8", "replace")) + 130 for p in sources)
    if estimate > MAX_RECORD_BYTES:
        raise _too_big(art, len(sources))
    run_dir = Path(run.run_dir)
    files_dir = run_dir / FILES_DIR
    entries: list[Entry] = []
    created: list[Path] = []  # store files of this call, removed if it fails
    for path in sorted(sources):
        src = sources[path]
        if isinstance(src, Entry):
            entries.append(Entry(path, ref=src.ref))
            continue
        source, link = src
        try:
            sha, size, new = ingest(source, files_dir, link=link)
        except OSError as exc:
            for done in created:
                discard(done)
            if exc.errno in DISK_FULL:  # like save(): training goes on, the call says so
                warnings.warn(ArtifactWarning(
                    f"runwal: log_artifact({art.name!r}) was not logged: the disk is full "
                    f"({exc.strerror}); what it had copied was removed. Free space and "
                    "call it again."), stacklevel=3)
                return art
            raise ArtifactError(f"runwal: log_artifact({art.name!r}): cannot store "
                                f"{str(source)!r}: {exc.strerror or exc}",
                                hint="check that the file is readable and the disk has room"
                                ) from exc
        if new:
            created.append(files_dir / STORE_DIR / sha)
        entries.append(Entry(path, size=size, sha256=sha, store_file=f"{STORE_DIR}/{sha}"))
    digest = digest_of(entries)
    ts = time.time()
    try:  # the mark use_artifact() looks for (resolve.py), references-only too
        make_dirs(files_dir / STORE_DIR)
    except OSError as exc:
        raise ArtifactError(f"runwal: log_artifact({art.name!r}): cannot create "
                            f"{files_dir / STORE_DIR}: {exc.strerror or exc}") from exc
    with _version_lock:
        records, _ = _records(run, art.name)
        version = assign_version(records, digest)
        all_aliases = [*(a for a in user_aliases if a != LATEST), LATEST]
        body = {"name": art.name, "type": art.type, "version": version, "digest": digest,
                "aliases": all_aliases, "description": art.description,
                "metadata": art.metadata, "entries": [e.body() for e in entries]}
        if len(msgpack.packb(body, use_bin_type=True)) > MAX_RECORD_BYTES:
            raise _too_big(art, len(entries))
        run.record(_ARTIFACT, body)
        _pending.setdefault(run, []).append(
            Logged(body, ts, 1 << 64, run_dir, run.id, all_aliases))
    art._set_logged(entries, version, digest, all_aliases, run_dir, run.id)
    return art


def log_model(run: Run, path: str | os.PathLike[str], name: str | None = None,
              aliases: Any = None) -> Artifact:
    """log_artifact(path, type="model"): a file or a directory (e.g. save_pretrained's)."""
    return log_artifact(run, path, name=name, type="model", aliases=aliases)


def use_artifact(run: Run, artifact_or_name: Any, type: str | None = None) -> Artifact:
    """Resolve ``name[:vN|:alias]`` (or a logged Artifact), record the lineage, return it.
    Disabled mode and a forked child resolve too, and record nothing."""
    inert = run.ignores_calls()  # a finished run: RunFinishedError before any work
    if isinstance(artifact_or_name, Artifact):
        art = artifact_or_name
        if not art.logged:
            raise ArtifactError(f"runwal: use_artifact(): artifact {art.name!r} is not "
                                "logged", hint="log it first with run.log_artifact(art)")
        asked = f"{art.name}:{art.version}"
    elif isinstance(artifact_or_name, str):
        asked = artifact_or_name
        name, spec = parse_spec(asked)
        check_name(name)
        check_name(spec, "version or alias")
        art = _resolve(run, asked, name, spec)
    else:
        raise ArtifactError(f"runwal: use_artifact() takes a name like 'data:latest' or an "
                            f"Artifact, got {_typename(artifact_or_name)}")
    if type is not None and type != art.type:
        raise ArtifactError(f"runwal: use_artifact({asked!r}, type={type!r}): it is of type "
                            f"{art.type!r}")
    assert art.version is not None
    if not inert:
        run.record(_USE, {"name": art.name, "type": art.type, "version": int(art.version[1:]),
                        "digest": art.digest, "source_run": art.source_run,
                        "asked": clean_text(asked)})
    return art


def _resolve(run: Run, asked: str, name: str, spec: str) -> Artifact:
    runs_dir = Path(os.path.abspath(run.settings.dir))  # (run_dir may be a stream's)
    records, n_runs = _records(run, name)
    hit = find(records, spec)
    if hit is None:
        server = run.settings.server
        if server and run.mode in SERVER_MODES:
            remote = _resolve_remote(run, server, name, spec)
            if remote is not None:
                return remote
        raise not_found(asked, name, spec, records, runs_dir, n_runs, server, run.mode,
                        run.project)
    body = hit.body
    entries = entries_from_record(body, hit.run_dir)
    art = Artifact(name, check_name(body.get("type"), "type"),
                   description=_str_or_none(body.get("description")),
                   metadata=_dict_or_none(body.get("metadata")))
    run_id = hit.run_id if hit.run_id is not None else run_id_of(hit.run_dir)
    art._set_logged(entries, hit.version, hit.digest, hit.aliases, hit.run_dir, run_id)
    return art


def _resolve_remote(run: Run, uri: str, name: str, spec: str) -> Artifact | None:
    """The version from the tracking server, or None when it has none: asked of a
    `runwal artifact get` child process (remote.py), never over HTTP from here."""
    from logwriter.artifacts import remote

    hit = remote.find_remote(uri, run.project, name, spec)
    if hit is None:
        return None
    manifest = hit.manifest
    body = {**manifest, "entries": [
        {**e, "file": f"{STORE_DIR}/{e.get('sha256')}"} if isinstance(e, dict)
        and "ref" not in e else e for e in manifest.get("entries") or ()]}
    entries = entries_from_record(body, Path(hit.where))
    digest = manifest.get("digest")
    if not isinstance(digest, str) or digest != digest_of(entries):
        raise ArtifactError(f"runwal: use_artifact(): the manifest of {name}:v{hit.version} "
                            f"on {hit.where} does not match its digest",
                            hint="sync the producing run again")
    art = Artifact(name, check_name(manifest.get("type"), "type"),
                   description=_str_or_none(manifest.get("description")),
                   metadata=_dict_or_none(manifest.get("metadata")))
    aliases = [a for a in manifest.get("aliases") or () if isinstance(a, str)]
    art._set_logged(entries, hit.version, digest, aliases, None, hit.source_run)
    project = run.project

    def fetch(wanted: list[Entry], root: Path) -> None:
        remote.fetch(uri, project, name, hit, digest, wanted, root)

    art._fetch = fetch
    return art


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _records(run: Run, name: str) -> tuple[list[Logged], int]:
    """The records of ``name`` on disk in the runs directory and queued by this run,
    and the number of runs read."""
    records, n_runs = scan(Path(os.path.abspath(run.settings.dir)), name)
    return records + [r for r in _pending.get(run, []) if r.body["name"] == name], n_runs


def _as_artifact(run: Run, value: Any, name: str | None, type: str | None) -> Artifact:
    if isinstance(value, Artifact):
        if name is not None and name != value.name:
            raise ArtifactError(f"runwal: log_artifact(name={name!r}) differs from the "
                                f"Artifact's name {value.name!r}")
        if type is not None and type != value.type:
            raise ArtifactError(f"runwal: log_artifact(type={type!r}) differs from the "
                                f"Artifact's type {value.type!r}")
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise ArtifactError(f"runwal: log_artifact() takes an Artifact or a path, got "
                            f"{_typename(value)}")
    path = Path(value)
    if name is None:  # wandb's default name for a path
        name = clean_name(f"run-{run.id}-{path.resolve().name}")
    art = Artifact(name, type if type is not None else DEFAULT_TYPE)
    if path.is_dir():
        art.add_dir(path)
    elif path.is_file():
        art.add_file(path)
    else:
        raise ArtifactError(f"runwal: log_artifact({os.fspath(value)!r}): no such file or "
                            "directory")
    return art


def _too_big(art: Artifact, n: int) -> ArtifactError:
    return ArtifactError(f"runwal: artifact {art.name!r} has {n} entries, more than one "
                         f"record holds ({MAX_RECORD_BYTES >> 20} MiB)",
                         hint="pack many small files into an archive (tar) and add that")


def _typename(value: Any) -> str:
    return type(value).__name__
