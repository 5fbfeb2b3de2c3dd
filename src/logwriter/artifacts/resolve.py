"""Find logged artifacts offline: the ``artifact`` records of every run in a runs directory.

Both halves of versioning read the same thing, the records themselves (there
is no index to go stale, and a run directory copied in from elsewhere counts
at once):

* `assign_version`, at log_artifact(): the version of a digest already logged
  under that name in any sibling run, else one past the highest (v0 first).
* `find`, at use_artifact(): ``name:vN`` is the newest record of version N,
  ``name:<alias>`` (``latest`` by default) the newest record naming the
  alias. Newest is by the record's ts, then its seq.

Cost: only runs that logged an artifact are read: log_artifact() always makes
the run's store directory ``files/artifacts/`` (docs/FORMAT.md), so a stat of
it tells the others apart without opening their logs (a shared run's streams
likewise). The first call in a process reads those runs' logs (frames only,
no files); later calls read only what was appended since (`scan`). On the
caller's thread of log_artifact/use_artifact, never in log(); measured at
10,000 runs by bench/artifact_scan.py. Records of this process not yet flushed
are added by the caller (``pending``), so a use_artifact() right after a
log_artifact() sees it.

Two processes logging different content under one name at the same moment
may both take the same next version; their digests tell them apart (the
newest record wins ``latest``), and the syncer keys uploads by version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logwriter.artifacts.errors import ArtifactNotFound
from logwriter.artifacts.names import VERSION_RE
from logwriter.artifacts.store import STORE_DIR
from logwriter.session.settings import SERVER_MODES
from schema.errors import SchemaError
from schema.layout import FILES_DIR, LOG_DIR, STREAMS_DIR, RunDir, child_runs
from schema.reader import Frame, SegmentReader
from schema.records import RecordType
from schema.segment import list_segments
from schema.uri import public_uri, resolve

_ARTIFACT = int(RecordType.ARTIFACT)


@dataclass
class Logged:
    """One ``artifact`` record and where it was found."""

    body: dict[str, Any]
    ts: float
    seq: int
    run_dir: Path
    run_id: str | None = None  # filled from run.json when a record is picked
    aliases: list[str] = field(default_factory=list)

    @property
    def version(self) -> int:
        return int(self.body["version"])

    @property
    def digest(self) -> str:
        return str(self.body["digest"])


class _Seen:
    """What this process has read of one segment: a reader that resumes where it
    stopped (segments are append-only) and the artifact records found so far."""

    def __init__(self, path: Path, ino: tuple[int, int]) -> None:
        self.reader = SegmentReader(path)
        self.ino = ino
        self.records: list[tuple[Any, float, int]] = []


_seen: dict[Path, _Seen] = {}
_seen_lock = threading.Lock()


def scan(runs_dir: Path, name: str) -> tuple[list[Logged], int]:
    """Every well-shaped ``artifact`` record of ``name`` under ``runs_dir``, and the
    number of runs read. Damaged or unreadable logs cost their own records only.

    Each segment is read once per process and then only for the bytes appended
    since (its reader is kept), so a training loop that logs a checkpoint every
    epoch pays for the new frames, not for the whole runs directory each time.
    """
    out: list[Logged] = []
    runs = child_runs(runs_dir)
    with _seen_lock:
        for run_dir in runs:
            for stream in _with_artifacts(run_dir):
                try:
                    segments = list_segments(stream / LOG_DIR)
                except (OSError, SchemaError):
                    continue
                for path in segments:
                    for body, ts, seq in _artifact_records(path):
                        found = _logged(body, ts, seq, stream, name)  # its store
                        if found is not None:
                            out.append(found)
    return out, len(runs)


def _with_artifacts(run_dir: Path) -> list[Path]:
    """The run's writer streams (its own log, and a shared run's others) whose store
    directory exists: only they may hold artifact records."""
    out = [run_dir] if (run_dir / FILES_DIR / STORE_DIR).is_dir() else []
    if (run_dir / STREAMS_DIR).is_dir():
        out += [s.path for s in RunDir(run_dir).streams()
                if (s.files_dir / STORE_DIR).is_dir()]
    return out


def _artifact_records(path: Path) -> list[tuple[Any, float, int]]:
    try:
        st = path.stat()
    except OSError:
        return []
    ino = (st.st_dev, st.st_ino)
    seen = _seen.get(path)
    if seen is None or seen.ino != ino or st.st_size < seen.reader.offset:
        seen = _seen[path] = _Seen(path, ino)  # new, or replaced by another file
    try:
        events = seen.reader.poll()
    except (OSError, SchemaError, ValueError):
        return seen.records
    for ev in events:
        if isinstance(ev, Frame):
            seen.records.extend((r.body, r.ts, r.seq) for r in ev.records
                                if r.type == _ARTIFACT)
    return seen.records


def _logged(body: Any, ts: float, seq: int, run_dir: Path, name: str) -> Logged | None:
    if type(body) is not dict or body.get("name") != name:
        return None
    version, digest, aliases = body.get("version"), body.get("digest"), body.get("aliases")
    if type(version) is not int or version < 0 or not isinstance(digest, str):
        return None
    aliases = [a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else []
    return Logged(body, ts, seq, run_dir, aliases=aliases)


def assign_version(records: list[Logged], digest: str) -> int:
    """The version of ``digest`` among ``records`` of one name, else the next one."""
    same = [r.version for r in records if r.digest == digest]
    if same:
        return min(same)
    return max((r.version for r in records), default=-1) + 1


def parse_spec(asked: str) -> tuple[str, str]:
    """``[entity/project/]name[:version|alias]`` -> (name, spec); spec is "latest" when
    missing. The path in front is wandb's; offline there is one namespace."""
    base = asked.rsplit("/", 1)[-1]
    name, sep, spec = base.partition(":")
    return name, spec if sep else "latest"


def find(records: list[Logged], spec: str) -> Logged | None:
    """The newest record matching ``spec`` (``vN`` or an alias), or None."""
    m = VERSION_RE.fullmatch(spec)
    if m:
        hits = [r for r in records if r.version == int(m.group(1))]
    else:
        hits = [r for r in records if spec in r.aliases]
    return max(hits, key=lambda r: (r.ts, r.seq), default=None)


def run_id_of(run_dir: Path) -> str:
    try:
        rd = RunDir(run_dir)
        rid = (rd.parent_run() or rd).identity().get("run_id")  # a stream: its run's id
    except SchemaError:
        rid = None
    return rid if isinstance(rid, str) else run_dir.name


def not_found(asked: str, name: str, spec: str, records: list[Logged], runs_dir: Path,
              n_runs: int, server: str | None, mode: str, project: str) -> ArtifactNotFound:
    """The error for an artifact that is not there: what was searched, what exists."""
    if records:
        versions = ", ".join(f"v{v}" for v in sorted({r.version for r in records}))
        aliases = ", ".join(sorted({a for r in records for a in r.aliases}))
        have = f"{name!r} has versions {versions} and aliases {aliases}"
    else:
        have = f"no run there logged an artifact named {name!r}"
    where = f"{runs_dir} ({n_runs} run{'s' if n_runs != 1 else ''} searched)"
    server = server or resolve(None)
    if not server:
        more = ""
    elif mode in SERVER_MODES:
        more = (f"; nor on the tracking server {public_uri(server)} (experiment "
                f"{project!r})")
    else:
        more = (f"; a tracking server is configured ({public_uri(server)}), but a run in "
                f"mode {mode!r} does not ask it (mode='online' or 'hybrid' does)")
    return ArtifactNotFound(f"runwal: use_artifact({asked!r}): no {spec!r} of {name!r} in "
                            f"{where}: {have}{more}")
