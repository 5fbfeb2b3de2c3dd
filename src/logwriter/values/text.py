"""Text that msgpack can pack: what to do with strings that are not valid UTF-8.

A str holding a lone surrogate -- what Python makes of undecodable bytes in
argv, environment values, file names or a ``surrogateescape`` stdout --
cannot be encoded as UTF-8, so msgpack refuses it. Found on the writer
thread it would cost the whole record, and with it the neighbours coalesced
into it (console lines) or the whole computed summary. The rule:

* keys (metric names, config and summary keys, define_metric names) name
  things and must be valid text: `check_text_key` raises ValueError naming
  the key, on the caller's thread, before anything of the call is queued;
* values, and what the SDK records by itself (argv, cwd, git, console text,
  alert text, saved file names, run names), are data: `clean_text` stores
  them as valid UTF-8 with each lone surrogate as a backslash escape, and the
  bytes behind ``surrogateescape`` as ``\\xNN`` escapes of the original bytes,
  so ``b"caf\\xe9"`` decoded that way is recorded as the text ``caf\\xe9``.

Cost: ``str.isascii`` (a flag read) for the common ASCII case.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64


def check_text_key(key: str, where: str) -> None:
    """ValueError naming ``key`` when it is not valid text."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"runwal: {where}: key {key!r} is not valid text (a lone surrogate, e.g. from "
            "undecodable bytes); name it with valid characters"
        ) from None


def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: unchanged unless it holds lone surrogates, each then a
    backslash escape (``surrogateescape``'d bytes become ``\\xNN`` of the byte)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that surrogateescape did not make
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clean_text_deep(value: Any, depth: int = 0) -> Any:
    """`clean_text` for every str in a record body, keys too: for metadata, and the
    writer's last resort when a record would not pack."""
    if isinstance(value, str):
        return clean_text(value)
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {clean_text_deep(k, depth + 1): clean_text_deep(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_text_deep(v, depth + 1) for v in value]
    return value
