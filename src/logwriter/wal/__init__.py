"""The run's write-ahead log: records from log() to fsync'd frames on disk.

* ``writer.py``: ``Writer``, the thread that drains the queue by group commit.
* ``backlog.py``: the bounded queue between log() and that thread (bytes and
  count), and its back-pressure.
* ``appender.py``: records -> frames -> one ``pwrite`` per group, rotation,
  the retry buffer of a failing disk.
* ``fsyncer.py``: fsync on its own thread, so a slow fsync never holds back
  the writes.
* ``writerlock.py``: ``WriterLock``, one writing process per run
  (``log/writer.lock``).

The bytes themselves (frames, segment headers) are ``schema``'s.
"""
