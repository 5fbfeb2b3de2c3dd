"""``run.config``: the run's hyper-parameters, a dict-like view that emits CONFIG deltas.

A CONFIG record holds only the keys whose value changed since the previous
one, so a resumed or replayed run rebuilds the full config by applying the
deltas in seq order. Values are validated on the caller's thread (a bad one
raises and changes nothing), like everything the Run queues. The syncer
flattens nested values into "a/b" params, so two keys that would name one
param (``"opt/lr"`` and ``{"opt": {"lr": ...}}``) are refused with a
ValueError naming both, never one value kept silently.

Values are first made plain the way wandb stores a config (`coerce`), so the
objects real configs carry never cost the whole update a TypeError: non-str
keys become str (``id2label``'s int keys), Path -> str, enums -> their name (as
wandb 0.31 stores them: ``RED``; enum map keys: a str/int enum's value, else its
str), set -> sorted list, tuple -> list,
dataclasses, ``argparse.Namespace`` and objects with ``to_dict()`` -> dicts,
numpy/torch arrays -> lists, their dtypes and devices (and anything else not
plain) -> str, bytes -> text, dates -> ISO text, slices as wandb spells them.
What is then still refused (a key that is no valid text, one over the size
limits) raises before anything is recorded, and at init() before the run
directory exists (`initial`).
"""

from __future__ import annotations

import contextlib
import enum
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from logwriter.values.convert import (
    MAX_DEPTH,
    MISSING,
    changed,
    check_flat_collisions,
    check_key,
    convert,
)

Emit = Callable[[dict[str, Any]], None]
_INT_LIMITS = (-(1 << 63), (1 << 64) - 1)
_ARRAY_MODULES = ("numpy", "torch", "jax", "jaxlib", "tensorflow", "cupy")


def as_mapping(data: Any) -> dict[Any, Any] | None:
    """A config given as a whole (init(config=), config.update()) as a dict, the ways
    wandb takes one; None when it is none of them."""
    if isinstance(data, Mapping):
        return dict(data)
    for method in ("as_dict", "to_dict"):  # our Config; HF configs, TrainingArguments
        dump = getattr(data, method, None)
        if callable(dump) and not isinstance(data, type):
            out = dump()
            if isinstance(out, Mapping):
                return dict(out)
    fields = getattr(type(data), "__dataclass_fields__", None)
    if isinstance(fields, Mapping):  # a dataclass instance (no import of dataclasses)
        return {name: getattr(data, name) for name in fields}
    if hasattr(data, "__dict__") and not isinstance(data, type):  # argparse.Namespace
        return {k: v for k, v in vars(data).items() if not k.startswith("_")}
    return None


def coerce(value: Any, depth: int = 0) -> Any:
    """A config value made plain the way wandb stores it (module docstring)."""
    t = type(value)
    if value is None or t in (bool, float, str):
        return value
    if t is int:
        return value if _INT_LIMITS[0] <= value <= _INT_LIMITS[1] else str(value)
    if depth >= MAX_DEPTH - 1:
        return str(value)
    if t is dict or isinstance(value, Mapping):
        return {_key(k): coerce(v, depth + 1) for k, v in value.items()}
    if t is list or t is tuple:
        return [coerce(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return [coerce(v, depth + 1) for v in sorted(value, key=str)]
    enum_value = _enum_value(value)
    if enum_value is not MISSING:
        return coerce(enum_value, depth + 1)
    if isinstance(value, (bool, int, float, str)):  # numpy.float64, other subclasses
        return coerce(_base(value), depth + 1)
    if t.__module__.partition(".")[0] in _ARRAY_MODULES:
        return _array(value, depth)
    if isinstance(value, os.PathLike):
        return coerce(os.fspath(value), depth + 1)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, slice):
        return {"slice_start": coerce(value.start, depth + 1),
                "slice_step": coerce(value.step, depth + 1),
                "slice_stop": coerce(value.stop, depth + 1)}
    if hasattr(value, "isoformat") and callable(value.isoformat) and not isinstance(
            value, type):
        return str(value.isoformat())
    nested = None if isinstance(value, type) or callable(value) else _nested(value)
    if nested is not None:
        return coerce(nested, depth + 1)
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, enum.Enum):
        return str(_enum_key(key))
    return str(key)


def _base(value: Any) -> Any:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    return value


def _enum_value(value: Any) -> Any:
    """An enum member's name, as wandb 0.31 stores any enum in a config value (``RED``
    for ``Color.RED``, a str or int enum included); MISSING for anything else."""
    if not isinstance(value, enum.Enum):
        return MISSING
    return value.name


def _enum_key(key: enum.Enum) -> Any:
    """A map key that is an enum member: its value if it mixes in str/int, else its str."""
    if isinstance(key, (str, int)):
        inner = key.value
        return _base(inner if isinstance(inner, (str, int)) else key)
    return str(key)


def _nested(value: Any) -> dict[Any, Any] | None:
    """A dataclass, Namespace or ``to_dict()`` object inside a config, as a dict."""
    if getattr(type(value), "__dataclass_fields__", None) is not None or callable(
            getattr(value, "to_dict", None)) or type(value).__name__ == "Namespace":
        try:
            return as_mapping(value)
        except Exception:  # a to_dict() that fails: stored as its str instead
            return None
    return None


def _array(value: Any, depth: int) -> Any:
    """numpy/torch values: scalars -> Python scalars, arrays -> lists, the rest (dtypes,
    devices) -> str."""
    for method in ("tolist", "item"):
        dump = getattr(value, method, None)
        if callable(dump):
            try:
                return coerce(dump(), depth + 1)
            except Exception:  # a lazy or device-bound tensor: its str then
                break
    return str(value)


def initial(config: Any, include: Iterable[str] | None = None,
            exclude: Iterable[str] | None = None) -> dict[str, Any] | None:
    """init()'s config, as a checked dict (filtered by wandb's ``config_include_keys`` /
    ``config_exclude_keys``), before any run directory exists: a value the run would
    refuse raises here, and nothing is left behind."""
    if config is None:
        return None
    items = as_mapping(config)
    if items is None:
        raise TypeError(f"runwal: init(config=...) needs a dict, got {type(config).__name__}")
    keep = None if include is None else {str(k) for k in include}
    drop = set() if exclude is None else {str(k) for k in exclude}
    items = {k: v for k, v in items.items()
             if (keep is None or str(k) in keep) and str(k) not in drop}
    clean = _checked(items)
    check_flat_collisions(clean, "config")
    return clean


def _checked(items: Mapping[Any, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in items.items():
        key = check_key(_key(key), "config")
        clean[key], _ = convert(coerce(value), key, "config")
    return clean


class Config:
    """The run's hyper-parameters; attribute and item access, deltas on every set."""

    def __init__(self, emit: Emit | None = None) -> None:
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_emit", emit)
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_flat", {})  # flattened key -> the key it comes from

    def update(self, data: Any = None, allow_val_change: bool = True, **kwargs: Any) -> None:
        """Set many keys; values are validated first, so a bad one changes nothing."""
        items = {} if data is None else as_mapping(data)
        if items is None:
            raise TypeError(f"runwal: config.update() needs a dict, got {type(data).__name__}")
        items.update(kwargs)
        clean = _checked(items)
        with self._lock:
            flat = check_flat_collisions(clean, "config", self._flat)
            delta = {k: v for k, v in clean.items() if changed(self._data.get(k, MISSING), v)}
            if not allow_val_change:
                bad = [k for k in delta if k in self._data]
                if bad:
                    raise ValueError(
                        f"runwal: config: key {bad[0]!r} already set to "
                        f"{self._data[bad[0]]!r}; pass allow_val_change=True to change it"
                    )
            object.__setattr__(self, "_flat", flat)
            if not delta:
                return
            self._data.update(delta)
            if self._emit is not None:
                self._emit(delta)

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load state from a resumed run's log without emitting records."""
        self._data.update(data)
        # An older log may hold such keys: keep them, and check the new ones.
        with contextlib.suppress(ValueError):
            object.__setattr__(self, "_flat", check_flat_collisions(self._data, "config"))

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self.as_dict().keys()

    def items(self) -> Any:
        return self.as_dict().items()

    def values(self) -> Any:
        return self.as_dict().values()

    def setdefaults(self, data: Any) -> None:
        """wandb's: set the keys of ``data`` that are not set yet; the others keep theirs."""
        items = as_mapping(data)
        if items is None:
            raise TypeError(f"runwal: config.setdefaults() needs a dict, got "
                            f"{type(data).__name__}")
        with self._lock:
            self.update({k: v for k, v in items.items() if _key(k) not in self._data})

    def setdefault(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if key not in self._data:
                self.update({key: default})
            return self._data.get(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.update({name: value})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Config({self.as_dict()!r})"
