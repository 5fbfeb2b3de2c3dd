"""The ``runwal`` command line (see `syncer.cli.main` for the group)."""

from syncer.cli.main import main

__all__ = ["main"]
