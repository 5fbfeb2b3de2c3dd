"""TensorBoard event files, read by both halves of runwal.

::

    tfrecord.py  the records from any offset, torn tails vs damage (the bytes of one
                 record: schema/tfrecord.py)
    events.py    the meaning: Event protobufs -> (step, wall_time, tag, kind, value) items
    live.py      ``init(sync_tensorboard=True)``: the files a run's process writes,
                 read as they grow on a thread the run owns, logged into the run

The SDK tails the files of a live run (live.py); the syncer's
``runwal import tensorboard`` reads finished logdirs (logwriter/importers/, in
the importer process the command starts).
Nothing here is imported by ``import logwriter``: only a run with
``sync_tensorboard=True`` loads it, and only it needs the ``tensorboard``
extra (tensorboardX's protobuf messages).
"""
