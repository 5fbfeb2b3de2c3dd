"""The run's ``files/``: what ``run.save()`` and a script put there.

* ``save.py``: ``FileSaver``, run.save() with its now / end / live policies.
* ``saver.py``: ``SaverThread``, hashing and live re-snapshots off the caller.
* ``snapshot.py``: one snapshot's bytes placed under ``files/`` (temp name,
  link or copy, rename) and its FILE record body.
* ``dirfiles.py``: the files a script wrote into ``run.dir`` without saving.
"""
