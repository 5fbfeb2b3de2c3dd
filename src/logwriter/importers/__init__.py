"""Runs made by other tools, written as run dirs ``runwal sync`` takes (``runwal import``).

::

    entry.py        the process ``runwal import`` starts: ``python -m logwriter.importers
                    tensorboard|wandb --into RUNS [--dry-run] -- SOURCE...``; finds the
                    sources, imports each, reports on stdout (`schema.import_protocol`)
    rundir.py       `import_source`: what a (re-)import does, the SDK's writer, the
                    source's timestamps, ``sync/import.state``
    errors.py       why one source could not be imported (a failed result, never an abort)
    tensorboard.py  TensorBoard logdirs: one run per directory of event files
    wandb.py        wandb offline run directories (``run-<id>.wandb``): finding them,
                    the run's name and start time, reading the log past the cursor
    wandbrecords.py which wandb record (protobuf) becomes which runwal record
    wandbmedia.py   wandb's rich values (``_type``) as MEDIA records, and the
                    summary's references to them
    wandblog.py     the LevelDB-log bytes a ``run-<id>.wandb`` is made of

Importing writes run dirs, the SDK's half of runwal, so it lives here and
uses the SDK's writer, media store and TensorBoard reader freely. The user's
command, ``runwal import`` (`syncer.cli.importcmd`), starts this package as a
process and reads its JSON lines: the syncer never imports logwriter
(docs/ARCHITECTURE.md, "The dependency rule"). What maps to what, and what is
skipped, is in docs/IMPORT.md. Nothing here is imported by ``import logwriter``.
"""
