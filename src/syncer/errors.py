"""Every error the syncer raises, in one tree.

Tree::

    RunwalError                 base; one line + ``hint``; ``exit_code``; ``message``
    ├── UsageError              exit 2: a mistake on the command line; nothing was done
    │   ├── NoSuchDir           a path given on the command line does not exist (or is no dir)
    │   ├── NotARun             RUN is not a run directory (no run.json, no log/)
    │   ├── BadOption           an option value the command cannot use (unknown --type name)
    │   ├── ExportError         the export destination cannot be written
    │   ├── NoServerConfigured  no --to, RUNWAL_SERVER or MLFLOW_TRACKING_URI (or a bad one)
    │   ├── BadCommand          `runwal run`: no command given, or it cannot be started
    │   └── MissingExtra        `runwal import wandb` without runwal[wandb-import] (tensorboard
    │                           too), as the importer process's result line says
    ├── SyncError               exit 1: the command ran, a sync failed; ``retryable``
    │   ├── ServerUnavailable   connect errors / timeouts / 5xx / 429 past the retry deadline
    │   │   └── AnswerLost      a create's answer never came: it may or may not have happened
    │   ├── BadResponse         the server's answer cannot be read (redirect loop, bad encoding)
    │   ├── ServerRejected      the server refused a request for good (4xx other than 429)
    │   │   ├── AuthFailed      401 / 403: every later request would fail the same way
    │   │   └── RunGone         the server run is deleted (or no longer active)
    │   ├── RunMoved            the server run the checkpoint names is a second copy, now in
    │   │                       the trash (two syncers, no shared lock): the engine starts
    │   │                       over, once, into the copy kept
    │   ├── ArtifactsUnsupported  the server does not proxy artifacts (no mlflow-artifacts: URI)
    │   ├── NotOnServer         `runwal artifact get`: no such artifact version or alias there
    │   ├── DownloadFailed      `runwal artifact get --into`: a file missing, changed or unwritable
    │   └── UnsafeRunDir        the run dir's log/ or sync/ is a link or a file: not followed
    ├── ImportProblem           exit 1: `runwal import`: the importer process could not be
    │                           started, or ended before it finished (a bad *source* is no
    │                           error here: the importer's result line says why, see
    │                           `logwriter.importers.errors`)
    └── LoopbackServerError     the throwaway MLflow server of tests/demo/bench did not start

Usage mistakes and sync failures differ by *class*, so `syncer.cli.common`
reads ``exc.exit_code`` and needs no list of special cases. Errors of the
on-disk format live in `schema.errors` (all of them usage mistakes when they
reach the command line: exit 2).

Not exceptions, on purpose: a rejected *record* (the sink isolates it, reports
it as a `syncer.sinks.base.Rejection` and goes on: one bad value must never
cost the whole run), a bad run among many (`runwal sync` reports it as a
failed `SyncResult` and syncs the others), and damage *inside* a run (``show``
and ``dump`` report it and go on, ``verify`` turns it into exit status 1).

Transport errors of httpx never leave the MLflow sink's REST client: they are
retried there and become `ServerUnavailable` or `BadResponse`, so the engine
knows nothing of HTTP.
"""

from __future__ import annotations

from schema.errors import HintError

EXIT_PROBLEM = 1
EXIT_USAGE = 2


class RunwalError(HintError):
    """Base class; ``hint`` says what the user can do about it."""

    exit_code: int = EXIT_PROBLEM

    @property
    def message(self) -> str:
        """The error without its hint (what a one-line log or a rejection records)."""
        text = str(self.args[0]) if self.args else ""
        return f"{self.path}: {text}" if self.path and self.path not in text else text


# -- usage mistakes: exit 2 --------------------------------------------------


class UsageError(RunwalError):
    """A mistake the user can fix before anything is done; exit status 2."""

    exit_code = EXIT_USAGE


class NoSuchDir(UsageError):
    hint = "pass the directory your runs are written to (RUNWAL_DIR, default ./runs)"


class NotARun(UsageError):
    hint = "pass one run directory such as ./runs/<run_id>; `runwal ls ./runs` lists them"


class BadOption(UsageError):
    hint = "see `runwal COMMAND --help` for the accepted values"


class ExportError(UsageError):
    hint = "pass a directory you can write to (it is created if missing)"


class NoServerConfigured(UsageError):
    hint = "pass --to http://HOST:PORT or set RUNWAL_SERVER / MLFLOW_TRACKING_URI"


class BadCommand(UsageError):
    hint = "usage: runwal run [--dir DIR] -- python train.py ARGS..."


class MissingExtra(UsageError):
    hint = "pip install 'runwal[wandb-import]' (or 'runwal[tensorboard]')"


# -- sync failures: exit 1 ---------------------------------------------------


class SyncError(RunwalError):
    """Syncing failed. ``retryable``: only because the server was away, try again later."""

    retryable: bool = False


class ServerUnavailable(SyncError):
    hint = "check that the server is up and reachable; `runwal sync` resumes where it stopped"
    retryable = True


class AnswerLost(ServerUnavailable):
    """A request that must not be repeated blindly (runs/create) may have reached the
    server, and its answer never came: look before trying again (`syncer.sinks.mlflow.retry`)."""


class BadResponse(SyncError):
    hint = "check that the URI points at an MLflow tracking server, not a proxy or login page"


class ServerRejected(SyncError):
    """``status`` (HTTP) and ``error_code`` (MLflow's) say what the server answered."""

    hint = "the server refused the request; see the message for the field it names"

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        error_code: str = "",
        hint: str | None = None,
    ):
        self.status = status
        self.error_code = error_code
        super().__init__(message, hint=hint)


class AuthFailed(ServerRejected):
    hint = "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD"


class RunGone(ServerRejected):
    hint = "the server run was deleted; remove the run's sync/ checkpoint to sync it as a new run"


class RunMoved(SyncError):
    """The run is kept on the server as another MLflow run than the checkpoint names:
    two syncers created it at once (sinks/mlflow/runs.py). ``sync_run`` starts over
    into the one kept."""

    hint = "nothing to do: the next pass sends the run again into the one server run kept"


class ArtifactsUnsupported(SyncError):
    hint = "start the server with artifact proxying (`mlflow server --artifacts-destination ...`)"


class NotOnServer(SyncError):
    """The server has no such artifact version or alias (exit 1)."""

    hint = "`runwal sync` the run that logged it; --project is the project it logged to"


class DownloadFailed(SyncError):
    hint = "the syncer may not have uploaded this file yet: `runwal sync` the producing run"


class UnsafeRunDir(SyncError):
    hint = ("the syncer reads and writes nothing outside the run directory: log/ and sync/ "
            "must be real directories")


# -- imports: exit 1 --------------------------------------------------------


class ImportProblem(RunwalError):
    """`runwal import`'s importer process (``python -m logwriter.importers``) could not be
    started, or ended without its done line; the sources it reported are kept."""

    hint = "see docs/IMPORT.md for what each importer reads"


# -- the loopback server -----------------------------------------------------


class LoopbackServerError(RunwalError):
    hint = "see the server log named in the message (the `mlflow` command must be installed)"
