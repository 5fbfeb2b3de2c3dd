"""What TensorBoard items become in a run: the one mapping the live sync and the import share.

======== ===================================================================
item     runwal record (``ts`` = the event's wall time, never the reading time)
======== ===================================================================
scalar   ``history`` at the event's step; the scalars of one event (same step
         and wall time) form one row. Steps below 0 are skipped and counted.
text     ``console`` on stdout, one line ``<tag> (step <n>): <text>``
image    ``media`` kind ``image``: the PNG under ``files/media/image/<sha256>.png``
histogram ``media`` kind ``histogram``: ``{"bins", "counts"}``
hparams  ``config``: the hparams as keys
======== ===================================================================

Media bodies follow docs/FORMAT.md ("Media and artifacts"); the files go
through logwriter.media's store (content-addressed, so an image logged twice
is stored once; written under a temp name and renamed).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from logwriter.tensorboard.events import Item
from schema.records import RecordType

Put = Callable[..., Any]  # Writer.put(rtype, ts, body)

_HISTORY, _CONSOLE, _MEDIA, _CONFIG = (int(RecordType.HISTORY), int(RecordType.CONSOLE),
                                       int(RecordType.MEDIA), int(RecordType.CONFIG))


class ToRecords:
    """Turns items into records through ``put``; ``counts`` says how many of each."""

    def __init__(self, put: Put, files_dir: str | os.PathLike[str] | None,
                 prefix: str = "") -> None:
        self.put = put
        self.files_dir = None if files_dir is None else Path(files_dir)  # None: write no file
        self._media: Any = None  # logwriter.media.store.MediaStore, made at the first image
        self.prefix = prefix
        self.counts: Counter[str] = Counter()
        self.last: dict[str, float] = {}  # tag -> last scalar, for the summary of an import
        self.max_step = -1

    def add(self, items: Iterable[Item]) -> None:
        row: dict[str, Any] = {}
        at: tuple[int, float] | None = None
        for it in items:
            if it.step < 0:
                self.counts["negative_step"] += 1
                continue
            if it.kind == "scalar":
                if at != (it.step, it.wall_time) and row:
                    self._row(at, row)
                    row = {}
                at = (it.step, it.wall_time)
                row[self.prefix + it.tag] = it.value
                continue
            if row:
                self._row(at, row)
                row, at = {}, None
            self._other(it)
        if row:
            self._row(at, row)

    def _row(self, at: tuple[int, float] | None, row: dict[str, Any]) -> None:
        assert at is not None
        step, wall = at
        self.put(_HISTORY, wall, {"step": step, "data": row})
        self.counts["scalars"] += len(row)
        self.last.update(row)
        self.max_step = max(self.max_step, step)

    def _other(self, it: Item) -> None:
        tag = self.prefix + it.tag
        if it.kind == "text":
            self.put(_CONSOLE, it.wall_time,
                     {"stream": "stdout", "text": f"{tag} (step {it.step}): {it.value}\n"})
            self.counts["text"] += 1
        elif it.kind == "image":
            v = it.value
            item = {**self._store(v["png"], "image", "png"), "width": v["width"],
                    "height": v["height"], "format": "png", "caption": None}
            self.put(_MEDIA, it.wall_time, {"key": tag, "step": it.step, "kind": "image",
                                            "items": [item]})
            self.counts["images"] += 1
        elif it.kind == "histogram":
            self.put(_MEDIA, it.wall_time, {"key": tag, "step": it.step, "kind": "histogram",
                                            "items": [it.value]})
            self.counts["histograms"] += 1
        elif it.kind == "hparams" and it.value:
            self.put(_CONFIG, it.wall_time, dict(it.value))
            self.counts["hparams"] += len(it.value)

    def _store(self, data: bytes, kind: str, ext: str) -> dict[str, Any]:
        """``data`` content-addressed under files/media/<kind>/ (logwriter.media's store):
        the item's file fields. Without a files dir (a dry run) nothing is written."""
        if self._media is None:
            if self.files_dir is None:
                digest = hashlib.sha256(data).hexdigest()
                return {"file": f"media/{kind}/{digest}.{ext}", "size": len(data),
                        "sha256": digest}
            from logwriter.media.store import MediaStore

            self._media = MediaStore(self.files_dir)
        return self._media.put(kind, ext, data)
