"""The ``runwal`` command line: the click group and the list of its subcommands.

One module per subcommand, named after it (``artifact.py``, ``dump.py``,
``export.py``, ``follow.py``, ``importcmd.py`` for ``import``, ``ls.py``,
``run.py``, ``show.py``, ``sync.py``, ``syncd.py``, ``ui.py``, ``verify.py``);
each is registered below with one line, in alphabetical order: the order
`runwal --help` lists them in (click sorts them). Shared pieces (the error
line, exit codes, ``--json``) are in `syncer.cli.common`; what the inspection
commands print is laid out in `syncer.cli.text` from what `syncer.inspect`
computes.

Exit statuses: 0 ok; 1 the command found a problem (verify: damage); 2 a
user mistake (bad path, not a run directory, bad option), printed as one
``runwal: error: ... (hint: ...)`` line on stderr.
"""

from __future__ import annotations

import click

from syncer.cli.artifact import artifact
from syncer.cli.dump import dump
from syncer.cli.export import export
from syncer.cli.follow import follow
from syncer.cli.importcmd import import_
from syncer.cli.ls import ls
from syncer.cli.run import run
from syncer.cli.show import show
from syncer.cli.sync import sync
from syncer.cli.syncd import syncd
from syncer.cli.ui import ui
from syncer.cli.verify import verify


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="runwal", prog_name="runwal")
def main() -> None:
    """runwal: crash-safe experiment logs, synced exactly once to MLflow.

    \b
    Inspect runs:   runwal ls ./runs        runwal show ./runs/<id>
                    runwal dump RUN         runwal verify RUN
                    runwal export RUN --tensorboard OUT_DIR

    \b
    Exit status: 0 ok; 1 the command found a problem (verify: damage;
    sync: a run failed); 2 usage error, printed as one line on stderr.
    """


# One line per subcommand, alphabetical: the order `runwal --help` lists them in.
main.add_command(artifact)
main.add_command(dump)
main.add_command(export)
main.add_command(follow)
main.add_command(import_)
main.add_command(ls)
main.add_command(run)
main.add_command(show)
main.add_command(sync)
main.add_command(syncd)
main.add_command(ui)
main.add_command(verify)

__all__ = ["main"]

if __name__ == "__main__":
    main()
