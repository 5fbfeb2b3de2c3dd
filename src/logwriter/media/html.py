"""Html: wandb's ``Html(data, inject=True, data_is_not_path=False)``.

``data`` is HTML text, a path to an .html file (unless ``data_is_not_path``)
or an open file; stored as UTF-8 under files/media/html/. ``inject`` (wandb
adds its stylesheet) is accepted and does nothing here.
"""

from __future__ import annotations

import os
from typing import Any

from logwriter.media.base import Media, type_name
from logwriter.media.store import MediaStore
from logwriter.values.text import clean_text

MAX_HTML_BYTES = 64 * 1024 * 1024


class Html(Media):
    """One HTML document."""

    kind = "html"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        what = "Html()"
        if hasattr(data, "read"):
            data = data.read()
        elif isinstance(data, os.PathLike) or (
                isinstance(data, str) and not data_is_not_path and len(data) < 4096
                and "<" not in data and os.path.isfile(data)):
            with open(data, encoding="utf-8", errors="surrogateescape") as fh:
                data = fh.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8", "surrogateescape")
        if not isinstance(data, str):
            raise TypeError(f"runwal: {what}: expected HTML text or a path, got "
                            f"{type_name(data)}")
        if len(data) > MAX_HTML_BYTES:
            raise ValueError(f"runwal: {what}: {len(data)} characters, over "
                             f"{MAX_HTML_BYTES}; save it with run.save() instead")
        self.html = clean_text(data)
        self.inject = inject
        self.nbytes = len(self.html)

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        item = store.put("html", "html", self.html.encode("utf-8"))
        item["format"] = "html"
        return [item]

    def __repr__(self) -> str:
        return f"<Html {len(self.html)} chars>"
