"""One JSON object per line: how the child processes runwal starts for itself answer.

`schema.import_protocol` (``runwal import``'s importer) and
`schema.artifact_protocol` (``runwal artifact get`` for use_artifact) both
speak it: each line is one compact JSON object whose ``tag`` field (``event``,
``status``) says what the rest holds. A line that is not such an object, or
whose tag is unknown, is no answer: the reader skips it (a library printed
something), it never guesses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, TypeVar

T = TypeVar("T")


def dump_line(body: dict[str, Any], default: Callable[[Any], Any] | None = None) -> str:
    """``body`` as one line. ensure_ascii: a path with undecodable bytes (surrogate
    escapes) still travels; allow_nan=False: the reader never meets a bare NaN."""
    return json.dumps(body, ensure_ascii=True, allow_nan=False, separators=(",", ":"),
                      default=default)


def parse_tagged(line: str, tag: str, known: Collection[str],
                 build: Callable[[str, dict[str, Any]], T | None]) -> T | None:
    """``build(tag value, object)`` for a line holding an object whose ``tag`` field is
    one of ``known``; None for any other line, and where ``build`` returns None or
    raises ValueError (a field missing or of the wrong type)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get(tag) not in known:
        return None
    try:
        return build(data[tag], data)
    except ValueError:
        return None


def text_field(data: dict[str, Any], key: str) -> str:
    """``data[key]`` when it is a str ("" when absent); ValueError for another type."""
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} is no str")
    return value


def int_field(data: dict[str, Any], key: str) -> int:
    """``data[key]`` when it is an int (not a bool); ValueError otherwise."""
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} is no int")
    return value
