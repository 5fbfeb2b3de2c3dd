"""``runwal import``: runs made by other tools, written as run dirs ``runwal sync`` takes.

::

    rundir.py       `import_source`: what a (re-)import does, the SDK's writer, the
                    source's timestamps, ``sync/import.state``; `ImportResult`
    tensorboard.py  TensorBoard logdirs: one run per directory of event files
    wandb.py        wandb offline run directories (``run-<id>.wandb``)

What maps to what, and what is skipped, is in docs/IMPORT.md. The command
line is `syncer.cli.importcmd`.
"""
