"""Artifacts: versioned, content-addressed sets of files logged with a run (wandb's).

Modules, one concept each:

* ``artifact.py``: the ``Artifact`` object the user builds and gets back;
* ``manifest.py``: entries and the digest (the record's ``entries``/``digest``);
* ``store.py``: bytes into ``files/artifacts/<sha256>`` and back out;
* ``resolve.py``: versions and aliases, read from the runs directory;
* ``remote.py``: use_artifact() from the tracking server (what the syncer uploaded),
  asked of a ``runwal artifact get`` child process: the training process never
  makes an HTTP request;
* ``runops.py``: what ``run.log_artifact/use_artifact/log_model`` do;
* ``names.py``, ``errors.py``: what names may be, what goes wrong.

The record bodies are in docs/FORMAT.md ("Media and artifacts") and in
runops.py's docstring.
"""

from __future__ import annotations

from logwriter.artifacts.artifact import Artifact
from logwriter.artifacts.errors import ArtifactError, ArtifactNotFound
from logwriter.artifacts.manifest import Entry

__all__ = ["Artifact", "ArtifactError", "ArtifactNotFound", "Entry"]
