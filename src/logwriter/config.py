"""``run.config``: the run's hyper-parameters, a dict-like view that emits CONFIG deltas.

A CONFIG record holds only the keys whose value changed since the previous
one, so a resumed or replayed run rebuilds the full config by applying the
deltas in seq order. Values are validated on the caller's thread (a bad one
raises and changes nothing), like everything the Run queues. The syncer
flattens nested values into "a/b" params, so two keys that would name one
param (``"opt/lr"`` and ``{"opt": {"lr": ...}}``) are refused with a
ValueError naming both, never one value kept silently.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from logwriter.values import MISSING, changed, check_flat_collisions, check_key, convert

Emit = Callable[[dict[str, Any]], None]


class Config:
    """The run's hyper-parameters; attribute and item access, deltas on every set."""

    def __init__(self, emit: Emit | None = None) -> None:
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_emit", emit)
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_flat", {})  # flattened key -> the key it comes from

    def update(self, data: Any = None, allow_val_change: bool = True, **kwargs: Any) -> None:
        """Set many keys; values are validated first, so a bad one changes nothing."""
        if data is None:
            items: dict[Any, Any] = {}
        elif isinstance(data, Mapping):
            items = dict(data)
        elif hasattr(data, "as_dict"):
            items = dict(data.as_dict())
        elif hasattr(data, "__dict__"):  # argparse.Namespace, simple objects
            items = {k: v for k, v in vars(data).items() if not k.startswith("_")}
        else:
            raise TypeError(f"runwal: config.update() needs a dict, got {type(data).__name__}")
        items.update(kwargs)
        clean = {}
        for key, value in items.items():
            key = check_key(key, "config")
            clean[key], _ = convert(value, key, "config")
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
