"""Why one source of an import could not be imported.

Tree::

    LogwriterError (logwriter.errors)
      ImportProblem           one source not imported; its result says why, the batch goes on
      ├── NotASource          no event files / no run-<id>.wandb where the path points
      ├── SourceChanged       the source is not what was imported, nor a grown copy of it
      └── RunDirTaken         the run dir a source maps to holds something else

None of them leaves the importer process: each becomes a ``failed`` result line
(`schema.import_protocol`) whose ``reason`` is the error's one line with its
hint, and ``runwal import`` shows it as a failed row (exit 1 at the end).
"""

from __future__ import annotations

from logwriter.errors import LogwriterError


class ImportProblem(LogwriterError):
    """One source of `runwal import` could not be imported; the batch goes on."""

    hint = "see docs/IMPORT.md for what each importer reads"


class NotASource(ImportProblem):
    hint = ("pass a TensorBoard logdir (a directory holding *tfevents* files) or a wandb "
            "offline run directory (holding run-<id>.wandb)")


class SourceChanged(ImportProblem):
    hint = "delete the imported run directory to import the source again from scratch"


class RunDirTaken(ImportProblem):
    hint = "import into another --into directory, or move the run directory that is there"
