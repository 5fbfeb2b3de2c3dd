"""Errors raised by the on-disk format layer.

Tree::

    HintError                   message + "(hint: ...)"; also the base of logwriter's
    │                           LogwriterError and syncer's RunwalError
    └── SchemaError             base of the format's errors
        ├── NotARunDir              path is missing or has no run.json / log/
        ├── BadSegmentHeader        a segment's 32-byte header fails its checks
        │   └── UnsupportedVersion  header is valid but written by a newer format
        ├── RecordTooLarge          one record would not fit in MAX_FRAME
        └── BadTrackingUri          a server URI runwal cannot use (see schema.uri)

Damage *inside* a segment (a corrupt or torn frame) is not an exception: the
reader reports it as a `Corrupt` or `Incomplete` event and goes on, because a
damaged frame must never cost the rest of the file.
"""

from __future__ import annotations


class HintError(Exception):
    """An error that says what to do: base of every runwal package's error tree.

    ``hint`` (a class default, or per instance) is appended as "(hint: ...)";
    ``path`` is put in front of the message when the message does not name it.
    It lives here because schema is the one package both halves import.
    """

    hint: str = ""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None):
        self.path = path
        if hint is not None:
            self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        if self.path and self.path not in text:
            text = f"{self.path}: {text}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class SchemaError(HintError):
    """Base class of the format's errors."""


class NotARunDir(SchemaError):
    hint = "pass a run directory such as ./runs/<run_id> (it holds run.json and log/)"


class BadSegmentHeader(SchemaError):
    hint = "the segment's first 32 bytes are damaged; run `runwal verify RUN` for details"

    def __init__(self, message: str, *, path: str | None = None, offset: int = 0):
        self.offset = offset
        super().__init__(message, path=path)


class UnsupportedVersion(BadSegmentHeader):
    hint = "this segment was written by a newer runwal; upgrade runwal to read it"


class RecordTooLarge(SchemaError):
    hint = "store large blobs as files with run.save(path) instead of logging them"


class BadTrackingUri(SchemaError):
    hint = "pass the server as http://HOST:PORT (or https://), e.g. --to http://127.0.0.1:5000"
