"""Find logged artifacts offline: the ``artifact`` records of every run in a runs directory.

Both halves of versioning read the same thing, the records themselves (there
is no index to go stale, and a run directory copied in from elsewhere counts
at once):

* `assign_version`, at log_artifact(): the version of a digest already logged
  under that name in any sibling run, else one past the highest (v0 first).
* `find`, at use_artifact(): ``name:vN`` is the newest record of version N,
  ``name:<alias>`` (``latest`` by default) the newest record naming the
  alias. Newest is by the record's ts, then its seq.

Cost: each call reads the logs of every run in the directory (frames only,
no files). log_artifact and use_artifact are rare calls; a directory of
thousands of long runs makes them take seconds, never the training loop's
log(). Records of this process not yet flushed are added by the caller
(``pending``), so a use_artifact() right after a log_artifact() sees it.

Two processes logging different content under one name at the same moment
may both take the same next version; their digests tell them apart (the
newest record wins ``latest``), and the syncer keys uploads by version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logwriter.artifacts.errors import ArtifactNotFound
from logwriter.artifacts.names import VERSION_RE
from schema.errors import SchemaError
from schema.layout import LOG_DIR, RunDir, child_runs
from schema.reader import Frame, iter_run_log
from schema.records import RecordType
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


def scan(runs_dir: Path, name: str) -> tuple[list[Logged], int]:
    """Every well-shaped ``artifact`` record of ``name`` under ``runs_dir``, and the
    number of runs read. Damaged or unreadable logs cost their own records only."""
    out: list[Logged] = []
    runs = child_runs(runs_dir)
    for run_dir in runs:
        try:
            for ev in iter_run_log(run_dir / LOG_DIR):
                if not isinstance(ev, Frame):
                    continue
                for rec in ev.records:
                    if rec.type == _ARTIFACT:
                        found = _logged(rec.body, rec.ts, rec.seq, run_dir, name)
                        if found is not None:
                            out.append(found)
        except (OSError, SchemaError, ValueError):
            continue
    return out, len(runs)


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
        rid = RunDir(run_dir).identity().get("run_id")
    except SchemaError:
        rid = None
    return rid if isinstance(rid, str) else run_dir.name


def not_found(asked: str, name: str, spec: str, records: list[Logged], runs_dir: Path,
              n_runs: int, server: str | None) -> ArtifactNotFound:
    """The error for an artifact that is not there: what was searched, what exists."""
    if records:
        versions = ", ".join(f"v{v}" for v in sorted({r.version for r in records}))
        aliases = ", ".join(sorted({a for r in records for a in r.aliases}))
        have = f"{name!r} has versions {versions} and aliases {aliases}"
    else:
        have = f"no run there logged an artifact named {name!r}"
    where = f"{runs_dir} ({n_runs} run{'s' if n_runs != 1 else ''} searched)"
    server = server or resolve(None)
    more = (f"; a tracking server is configured ({public_uri(server)}), but resolving "
            "artifacts from the server is not built yet") if server else ""
    return ArtifactNotFound(f"runwal: use_artifact({asked!r}): no {spec!r} of {name!r} in "
                            f"{where}: {have}{more}")
