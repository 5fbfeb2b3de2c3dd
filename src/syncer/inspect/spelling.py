"""How the inspection commands spell any value a run holds, in JSON and in text.

A record body may hold what strict JSON cannot (msgpack bin and ext values,
non-string map keys, NaN), and run.json or a file name may hold what UTF-8
cannot (lone surrogates, from ``\\ud800`` escapes or undecodable bytes).
`spell` turns any of it into plain JSON values, the same way everywhere
(``runwal dump``, ``show --json``, ``ls --json``; docs/CLI.md, "JSON
spelling"):

==========================  ==========================================
NaN, +inf, -inf             ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
bin                         ``"base64:<standard base64>"``
ext (code, data)            ``{"$ext": code, "base64": "<data>"}``
                            (the msgpack timestamp is ext -1)
a non-string map key        its spelling as text: ``1`` -> ``"1"``,
                            ``true`` -> ``"true"``, ``null`` -> ``"null"``,
                            ``2.5`` -> ``"2.5"``, bin -> ``"base64:..."``;
                            if two keys of a map then collide, the map is
                            ``{"$map": [[key, value], ...]}`` instead
a lone surrogate in a str   U+FFFD (a surrogate pair: its character)
deeper than MAX_DEPTH       ``"<nested too deep>"``
==========================  ==========================================

Text output (`terminal_text`) also shows control characters as ``\\xNN``,
so a forged name cannot clear or drive the terminal.

Records never nest deeper than `schema.records.MAX_DEPTH` (the reader
reports deeper ones as malformed), but run.json may, so `spell` keeps its
own bound and the recursion stays far from Python's limit.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import msgpack

from schema.records import MAX_DEPTH

TOO_DEEP = "<nested too deep>"


def spell(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON values (see the module docstring)."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (bool, int)):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return _spell_map(value, depth + 1)
    if isinstance(value, msgpack.ExtType):  # a NamedTuple: before the tuple case
        return {"$ext": value.code, "base64": base64.b64encode(value.data).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [spell(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, msgpack.Timestamp):
        return {"$ext": -1, "base64": base64.b64encode(value.to_bytes()).decode("ascii")}
    return replace_surrogates(str(value))


def _spell_map(value: dict[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = key_text(k)
        if key in out:  # two keys spell the same: keep both, as pairs
            return {"$map": [[spell(k, depth), spell(v, depth)] for k, v in value.items()]}
        out[key] = spell(v, depth)
    return out


def key_text(key: Any) -> str:
    """A map key as a JSON object key: a str as is, anything else as its spelling's text."""
    if isinstance(key, str):
        return replace_surrogates(key)
    spelled = spell(key, MAX_DEPTH - 1)
    if isinstance(spelled, str):
        return spelled
    return json.dumps(spelled, ensure_ascii=False, allow_nan=False, sort_keys=True)


def replace_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so it can be printed.

    A surrogate *pair* (JSON's spelling of an emoji) becomes the character it encodes.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


# C0 and C1 control characters but newline and tab, as \xNN: a run's names and
# values must not drive the terminal (an escape sequence that clears it, a NUL).
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (9, 10)}


def terminal_text(text: str) -> str:
    """`replace_surrogates`, and control characters shown as ``\\xNN``: for text output."""
    return replace_surrogates(text).translate(_CONTROLS)

