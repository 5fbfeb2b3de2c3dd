"""Errors of artifacts: what log_artifact / use_artifact raise.

Tree (under logwriter.errors.LogwriterError)::

    ArtifactError(ValueError)     a bad name, alias, entry path or argument; an artifact
    │                             that cannot be logged (no files, too many, already
    │                             logged and so immutable); a damaged record or store file
    └── ArtifactNotFound(LookupError)
                                  use_artifact() found no such name/version/alias in the
                                  runs directory (nor, online/hybrid, on the tracking
                                  server, or the server did not answer); says what was
                                  searched and what exists

All of them are raised on the caller's thread before anything of the call
is queued: a failed log_artifact() writes no record (files it already copied
into ``files/artifacts/`` are harmless: content-addressed, never referenced).
"""

from __future__ import annotations

from logwriter.errors import LogwriterError


class ArtifactError(LogwriterError, ValueError):
    hint = ("artifact names and types use letters, digits, '-', '_' and '.'; aliases too, "
            "and an alias may not look like a version (v3)")


class ArtifactNotFound(ArtifactError, LookupError):
    hint = ("use_artifact() resolves from the runs directory of this run (init(dir=...) or "
            "RUNWAL_DIR), then, for an online or hybrid run, from the tracking server: log "
            "the artifact from a run in that directory, copy the producing run directory "
            "there, or `runwal sync` the producing run")
