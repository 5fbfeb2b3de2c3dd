"""The Run of one process: the object a script holds, and what stands behind it.

* ``run.py``: ``Run``, steps, log(), config, summary and finish(): the state
  the user's calls share (its docstring says why it stays one module).
* ``calls.py``, ``info.py``: the Run's other calls (define_metric, save,
  alert, artifacts, watch) and wandb's run attributes, as mixins.
* ``rich.py``: where log() and the summary hand rich values to ``media/``.
* ``backend.py``: the run directory, writer thread, helpers and syncer process
  behind one Run; ``finish.py``: the order finish() stops them in.
* ``settings.py``: init()'s one parameter list, env vars, modes;
  ``wandb_args.py``: wandb's other init() arguments and what each does here.
* ``resume.py``: reading an existing run's log to continue it.
* ``exithooks.py``: atexit, excepthook, SIGTERM and fork: ending runs with the
  right status whatever ends the process.
* ``syncproc.py``: ``SyncProcess``, the `runwal follow` process of an online
  or hybrid run (the SDK starts it by command line, never imports the syncer).
"""
