"""The Run's rich values: where log() and the summary hand media to media/.

The media package knows how to check, encode and store a rich value
(media/logged.py, store.py, worker.py); this module is the Run's end of it,
the one place that knows when its pieces are made and stopped:

* ``log()`` of a rich value (an Image, a gallery, a Table): one MEDIA record
  per key at the run's current step, encoded and stored on the media worker
  thread (``runwal-media-<id>``), which queues the record once its files are
  complete. The worker and the run's MediaStore (``files/media/``) are made by
  the first such value, so a run that logs none starts no thread; the worker
  is bounded by the writer queue's own limits (lag, bytes, put timeout).
* ``summary[key] = <rich value>``: stored now, on the caller's thread
  (media/logged.py, ``summary_media``), so that the summary can keep a small
  reference naming the file; the record is queued by the caller.
* finish(): the worker drains, bounded; the values it did not get to are one
  line for finish() to report (their records are missing).
* a forked child: the parent's worker thread did not survive; it is detached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from logwriter.media.logged import MediaJob, Split, summary_media
from logwriter.media.store import MediaStore
from logwriter.media.worker import RECORD_BYTES, MediaWorker
from logwriter.wal.writer import Writer
from schema.records import RecordType

_MEDIA = int(RecordType.MEDIA)


class RunMedia:
    """One run's media store and worker, made on first use."""

    def __init__(self, files_dir: str, run_id: str) -> None:
        self.files_dir = files_dir
        self.run_id = run_id
        self.store: MediaStore | None = None  # files/media/, made by the first rich value
        self.worker: MediaWorker | None = None  # started by the first rich value in log()

    @property
    def dropped(self) -> int:
        return self.worker.dropped if self.worker is not None else 0

    @property
    def queued(self) -> int:
        """Rich values waiting to be encoded and stored."""
        return self.worker.pending() if self.worker is not None else 0

    def log(self, writer: Writer, step: int, media: list[Split]) -> None:
        """log()'s rich values (under the Run's lock): a job each for the worker."""
        worker = self.worker
        if worker is None:
            self.store = MediaStore(Path(self.files_dir))
            worker = self.worker = MediaWorker(
                writer.put, writer.queue.queued_bytes, writer.notices,
                max_lag=writer.queue.max_lag, max_bytes=writer.queue.max_bytes,
                put_timeout=writer.queue.put_timeout,
                name=f"runwal-media-{self.run_id}")
        store = self.store
        assert store is not None
        now = time.time()
        for key, kind, values in media:
            worker.submit(now, MediaJob(key, step, kind, values, store))

    def summary(self, values: dict[str, Any], step: int
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The summary's rich values, stored now: (MEDIA record bodies, references)."""
        if self.store is None:
            self.store = MediaStore(Path(self.files_dir))
        return summary_media(values, step, self.store)

    @staticmethod
    def queue(writer: Writer, bodies: list[dict[str, Any]]) -> None:
        """Queue the MEDIA records summary() made (outside the Run's lock)."""
        for body in bodies:
            writer.put(_MEDIA, time.time(), body, RECORD_BYTES)

    def close(self, timeout: float) -> str | None:
        """finish(): let the worker drain for up to ``timeout`` seconds; one line
        about the values left behind, if any."""
        worker = self.worker
        if worker is None or worker.close(timeout):
            return None
        return (f"runwal: finish() stopped waiting after {timeout:g}s for "
                f"{worker.pending()} rich values to be encoded and stored; "
                "their media records are missing")

    def detach(self) -> None:
        """In a forked child: forget the parent's worker thread."""
        if self.worker is not None:
            self.worker.detach()
