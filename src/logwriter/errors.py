"""Errors and warnings raised by the SDK.

Tree::

    LogwriterError                base; carries a one-line ``hint``
    ├── NoServerError             online/hybrid without an http(s) tracking server (also ValueError)
    ├── SyncStartError            online: the server check failed; nothing was created
    ├── RunDirError               init() cannot create or resume the run directory
    └── RunFinishedError          a call that records something on a finished run, or a
                                  module-level call (logwriter.log, ...) with no current run

    RunwalWarning(RuntimeWarning) base of every warning the SDK emits
    ├── DroppedRecordsWarning     back-pressure or disk trouble made the SDK drop records
    ├── WriteErrorWarning         a write/fsync failed; the writer keeps the bytes and retries
    ├── StepWarning               log(step=) went backwards; the call was ignored (like wandb)
    ├── ForkedRunWarning          a forked child used the parent's run; the call was ignored
    ├── FinishTimeoutWarning      finish() stopped waiting for a stuck writer thread; the last
    │                             records may not be on disk
    ├── SaveWarning               run.save() could not snapshot a file (disk full, file gone);
    │                             the run goes on without it
    ├── ArtifactWarning           log_artifact() found the disk full; nothing of it was logged
    └── SyncWarning               online/hybrid: the syncer could not start, or finish() stopped
                                  waiting for it; the run is safe on disk, `runwal sync` uploads it

Training code must never die because of logging: problems that appear after
init() (disk full, a slow disk, a fork) are warnings, emitted once each, in the
caller's thread. Only mistakes the caller can fix right away (a bad value, a
bad argument) raise, and they raise before anything of that call is queued.
"""

from __future__ import annotations

from schema.errors import HintError


class LogwriterError(HintError):
    """Base class; ``hint`` says what the user can do about it."""


class NoServerError(LogwriterError, ValueError):
    hint = (
        "pass init(server='http://HOST:PORT') or set RUNWAL_SERVER (or MLFLOW_TRACKING_URI); "
        "or use mode='offline' and `runwal sync RUN_DIR` later"
    )


class SyncStartError(LogwriterError):
    hint = (
        "check that the server is up and the URI is right; mode='hybrid' logs locally now "
        "and syncs when the server answers, mode='offline' leaves it to `runwal sync`"
    )


class RunDirError(LogwriterError):
    hint = "pass dir= (or set RUNWAL_DIR) to a writable directory; resume needs an existing run"


class RunFinishedError(LogwriterError):
    hint = "call logwriter.init() to start a new run"


class RunwalWarning(RuntimeWarning):
    """Base of all runwal warnings, so users can filter them in one line."""


class DroppedRecordsWarning(RunwalWarning):
    """Records were dropped; ``run.stats()`` counts them."""


class WriteErrorWarning(RunwalWarning):
    """The disk refused a write; bytes are kept and retried at the next flush."""


class StepWarning(RunwalWarning):
    """A log() call with a step lower than the current one was ignored."""


class ForkedRunWarning(RunwalWarning):
    """A forked child called into the run it inherited; call init() in the child."""


class FinishTimeoutWarning(RunwalWarning):
    """finish() gave up waiting for the writer thread (a slow or stuck disk); the message
    says how many records may be missing and where the run is."""


class SaveWarning(RunwalWarning):
    """run.save() (or finish(), for ``end``/``live`` files) could not snapshot a file;
    ``run.stats()['save_errors']`` counts them."""


class ArtifactWarning(RunwalWarning):
    """log_artifact() found the disk full: the artifact was not logged (``art.logged``
    stays False) and the files it had copied into the run were removed."""


class SyncWarning(RunwalWarning):
    """The run is on disk but not (yet) all on the server; the message says what to run."""
