"""Validate and convert user values on the caller's thread.

Everything that reaches the writer thread must pack with msgpack and fit in a
frame, because the writer has no way to report an error to the line of
training code that caused it. So the checks happen here, in the caller's
thread, before anything of the call is queued, and a bad value raises a
``TypeError``/``ValueError`` naming the offending key.

Accepted: int (64-bit range), float (NaN and inf too), bool, str, None, and
lists/dicts of those. numpy and torch scalars and single-element arrays are
turned into Python scalars with ``.item()``, recognised by their type's module
so this module never imports numpy or torch (importing torch costs seconds).

Keys must be valid text (ValueError naming the key), str values are stored
as valid UTF-8 with lone surrogates escaped: text.py says why.

Nested dicts are flattened with "/" (the syncer does the same with config and
summary), so ``{"a/b": 1, "a": {"b": 2}}`` names one key twice: ValueError
naming it, never one value silently kept. Steps are ints in [0, 2**63), what
MLflow stores; see `check_step`.

``flatten`` is on the hot path of ``log()``: the common case, a dict of plain
floats under ASCII keys, is one loop of exact type checks and no other
function call than ``str.isascii`` per value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from logwriter.values.text import check_text_key, clean_text

MAX_STR_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1
STEP_LIMIT = 1 << 63  # steps are in [0, STEP_LIMIT): MLflow's int64
_NONE = type(None)
_PLAIN = frozenset((float, bool, _NONE))
_ARRAY_MODULES = ("numpy", "torch", "jax", "jaxlib", "tensorflow", "cupy")
_HELP = (
    "log int, float, bool, str, None or lists/dicts of those "
    "(numpy/torch scalars are converted); store larger objects with run.save()"
)


MISSING: Any = object()
"""No value yet: differs from every value, so a key's first value always counts as changed."""


def changed(old: Any, new: Any) -> bool:
    """Whether a config/summary delta must carry ``new`` (NaN counts as equal to NaN)."""
    if old is MISSING or type(old) is not type(new):
        return True
    if isinstance(new, float) and math.isnan(new) and math.isnan(old):
        return False
    return bool(old != new)


def check_key(key: Any, where: str) -> str:
    """A config/summary key: a str of valid text, or a TypeError/ValueError naming it."""
    if not isinstance(key, str):
        raise TypeError(f"runwal: {where}: keys must be str, got {type(key).__name__} {key!r}")
    key = str(key)
    if not key.isascii():
        check_text_key(key, where)
    return key


def check_step(step: Any) -> int:
    """A step: an int (or int-like: numpy, torch) in [0, 2**63), else a TypeError or
    ValueError saying so. MLflow stores steps as int64, and a step msgpack cannot
    pack would cost this row and every later one."""
    if type(step) is not int:
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise TypeError(f"runwal: log(step=...) must be an int, got {type(step).__name__}")
        step = int(step.__index__())
    if not 0 <= step < STEP_LIMIT:
        raise ValueError(f"runwal: log(step={step}) must be an int in [0, 2**63)")
    return step


def flat_keys(key: str, value: Any, depth: int = 0) -> list[str]:
    """The "/"-joined keys a nested value is flattened into (by the syncer, for
    config and summary): ``("a", {"b": 1})`` -> ``["a/b"]``."""
    if type(value) is dict and value and depth < MAX_DEPTH:
        return [f for k, v in value.items() for f in flat_keys(f"{key}/{k}", v, depth + 1)]
    return [key]


def check_flat_collisions(keys: Mapping[str, Any], where: str,
                          owners: dict[str, str] | None = None) -> dict[str, str]:
    """Raise ValueError when two keys (here, or in ``owners``: flat key -> the key it
    came from) flatten to the same name; returns the updated owners."""
    out = {f: o for f, o in (owners or {}).items() if o not in keys}
    for key, value in keys.items():
        for f in flat_keys(key, value):
            other = out.get(f)
            if other is not None and other != key:
                raise ValueError(
                    f"runwal: {where}: keys {other!r} and {key!r} both name {f!r} once "
                    "nested dicts are flattened with '/'; use one spelling"
                )
            out[f] = key
    return out


def _type_error(where: str, key: str, value: Any, why: str = "") -> TypeError:
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return TypeError(
        f"runwal: {where}: value for key {key!r} has unsupported type {name}{why}; {_HELP}"
    )


def _size_error(where: str, key: str, size: int, limit: int, what: str) -> ValueError:
    return ValueError(
        f"runwal: {where}: {what} for key {key!r} is about {size} bytes, over the "
        f"{limit}-byte limit; store it as a file with run.save() instead"
    )


def flatten(data: Any, where: str = "log()") -> tuple[dict[str, Any], int]:
    """Flatten nested dicts with "/" and convert values.

    Returns the flat dict and a rough size in bytes of its variable-length
    parts (strings, lists), which the caller may use for a record-size check.
    """
    if type(data) is not dict:
        if not isinstance(data, Mapping):
            raise TypeError(
                f"runwal: {where}: expected a dict of metrics, got {type(data).__name__}"
            )
        data = dict(data)
    # Fast path, the common case: flat str keys and float/bool/None values. One
    # pass of exact type checks, then a C-level copy.
    plain = _PLAIN
    for k, v in data.items():
        if type(k) is not str or type(v) not in plain or not k.isascii():
            break
    else:
        return dict(data), 0
    out: dict[str, Any] = {}
    size = _flatten_into(out, data, "", where, 0)
    if size > MAX_RECORD_BYTES:
        raise ValueError(
            f"runwal: {where}: this call's data is about {size} bytes, over the "
            f"{MAX_RECORD_BYTES}-byte record limit; store large objects with run.save()"
        )
    return out, size


def _flatten_into(out: dict[str, Any], data: Mapping[Any, Any], prefix: str, where: str,
                  depth: int) -> int:
    size = 0
    plain = _PLAIN
    for k, v in data.items():
        if type(k) is not str:
            if not isinstance(k, str):
                raise TypeError(
                    f"runwal: {where}: keys must be str, got {type(k).__name__} {k!r}"
                    f"{' under ' + repr(prefix[:-1]) if prefix else ''}"
                )
            k = str(k)
        if not k.isascii():
            check_text_key(prefix + k, where)
        key = prefix + k if prefix else k
        if key in out:
            raise ValueError(
                f"runwal: {where}: key {key!r} is given twice (once with '/' in its name, "
                "once as a nested dict); use one spelling"
            )
        t = type(v)
        if t in plain:
            out[key] = v
        elif t is int:
            if not _INT_MIN <= v <= _INT_MAX:
                raise ValueError(
                    f"runwal: {where}: int for key {key!r} does not fit in 64 bits; "
                    "log it as a float or a str"
                )
            out[key] = v
        elif t is dict or isinstance(v, Mapping):
            if depth >= MAX_DEPTH:
                raise ValueError(f"runwal: {where}: key {key!r} is nested over {MAX_DEPTH} deep")
            size += _flatten_into(out, v, key + "/", where, depth + 1)
        else:
            v, n = convert(v, key, where, depth)
            out[key] = v
            size += n + len(key)
    return size


def convert(value: Any, key: str, where: str, depth: int = 0) -> tuple[Any, int]:
    """One value (not flattened) -> (plain value, rough byte size); raises naming ``key``."""
    t = type(value)
    if t in _PLAIN:
        return value, 9
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(
                f"runwal: {where}: int for key {key!r} does not fit in 64 bits; "
                "log it as a float or a str"
            )
        return value, 9
    if t is str:
        if not value.isascii():
            value = clean_text(value)
        n = len(value)
        if n * 4 > MAX_STR_BYTES:
            n = len(value.encode("utf-8", "surrogatepass"))
            if n > MAX_STR_BYTES:
                raise _size_error(where, key, n, MAX_STR_BYTES, "str")
        return value, n + 5
    if depth >= MAX_DEPTH:
        raise ValueError(f"runwal: {where}: value for key {key!r} is nested over {MAX_DEPTH} deep")
    if t is list or t is tuple:
        items = []
        size = 5
        for item in value:
            item, n = convert(item, key, where, depth + 1)
            items.append(item)
            size += n
        if size > MAX_RECORD_BYTES:
            raise _size_error(where, key, size, MAX_RECORD_BYTES, "list")
        return items, size
    if t is dict or isinstance(value, Mapping):
        inner: dict[str, Any] = {}
        size = 5
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"runwal: {where}: keys must be str, got {type(k).__name__} {k!r} "
                    f"inside {key!r}"
                )
            k = check_key(k, where)
            inner[k], n = convert(item, f"{key}/{k}", where, depth + 1)
            size += n + len(k)
        return inner, size
    module = t.__module__.partition(".")[0]
    if module in _ARRAY_MODULES:
        return convert(_array_scalar(value, key, where), key, where, depth + 1)
    # Subclasses of the plain types (IntEnum, numpy.float64 which subclasses
    # float, str enums): store the plain value.
    if isinstance(value, bool):
        return bool(value), 9
    if isinstance(value, int):
        return convert(int(value), key, where, depth)
    if isinstance(value, float):
        return float(value), 9
    if isinstance(value, str):
        return convert(str(value), key, where, depth)
    raise _type_error(where, key, value)


def _array_scalar(value: Any, key: str, where: str) -> Any:
    """The Python scalar inside a numpy/torch/jax scalar or one-element array."""
    item = getattr(value, "item", None)
    if item is None:
        raise _type_error(where, key, value)
    size = getattr(value, "size", None)
    if callable(size):  # torch: Tensor.size() is the shape; numel() is the count
        numel = getattr(value, "numel", None)
        size = numel() if callable(numel) else None
    if size is not None and size != 1:
        shape = tuple(getattr(value, "shape", ()))
        raise _type_error(where, key, value, f" with shape {shape} (only single values)")
    try:
        out = item()
    except Exception as exc:  # any failure is the value's problem
        raise _type_error(where, key, value, f" (.item() failed: {exc})") from None
    if type(out) not in _PLAIN and type(out) not in (int, str):
        raise _type_error(where, key, out, f" (from {type(value).__name__})")
    return out
