"""``run.summary``: the final value per key, a dict-like view that emits SUMMARY deltas.

The summary follows wandb: unless the user sets a key explicitly, a history
key's summary is its last logged value, or its min/max/mean when
``define_metric(summary=...)`` says so. ``observe()`` runs on every log(), so
it costs one dict update plus, only when metric rules exist, one cached rule
lookup per key; the computed summary is emitted as one delta at finish()
instead of per log() call. Like CONFIG, a SUMMARY record holds only the keys
that changed since the last one.
"""

from __future__ import annotations

import fnmatch
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from logwriter.values import MISSING, changed, check_flat_collisions, check_key, convert

Emit = Callable[[dict[str, Any]], None]
SUMMARY_MODES = ("min", "max", "mean", "last", "none")


class _Agg:
    __slots__ = ("count", "max", "min", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, v: float) -> None:
        self.count += 1
        self.total += v
        if v < self.min:
            self.min = v
        if v > self.max:
            self.max = v

    def value(self, mode: str) -> float | None:
        if not self.count:
            return None
        if mode == "min":
            return self.min
        if mode == "max":
            return self.max
        return self.total / self.count


class Summary:
    """Final values per key; explicit sets emit at once, computed ones at finish()."""

    def __init__(self, emit: Emit | None = None) -> None:
        self._emit = emit
        self._lock = threading.RLock()
        self._last: dict[str, Any] = {}
        self._explicit: dict[str, Any] = {}
        self._emitted: dict[str, Any] = {}
        self._exact: dict[str, str] = {}  # metric name -> mode
        self._globs: list[tuple[str, str]] = []  # newest last
        self._rule_cache: dict[str, str] = {}
        self._aggs: dict[str, _Agg] = {}

    # -- fed by the run ----------------------------------------------------

    def observe(self, row: dict[str, Any]) -> None:
        """Account one committed history row (hot path)."""
        self._last.update(row)
        if self._exact or self._globs:
            for key, value in row.items():
                mode = self._rule_cache.get(key)
                if mode is None:
                    mode = self._rule_cache[key] = self._mode(key)
                if mode in ("min", "max", "mean") and type(value) in (int, float):
                    agg = self._aggs.get(key)
                    if agg is None:
                        agg = self._aggs[key] = _Agg()
                    agg.add(value)

    def define(self, name: str, mode: str | None) -> None:
        """Register a define_metric() summary rule; ``name`` may be a glob."""
        if mode is None:
            return
        with self._lock:
            if any(ch in name for ch in "*?["):
                self._globs.append((name, mode))
            else:
                self._exact[name] = mode
            self._rule_cache.clear()

    def _mode(self, key: str) -> str:
        mode = self._exact.get(key)
        if mode is not None:
            return mode
        for pattern, m in reversed(self._globs):
            if fnmatch.fnmatchcase(key, pattern):
                return m
        return "last"

    def computed(self) -> dict[str, Any]:
        """The whole summary as the user would see it now."""
        with self._lock:
            out: dict[str, Any] = {}
            for key, value in self._last.items():
                mode = self._mode(key)
                if mode == "none":
                    continue
                if mode in ("min", "max", "mean"):
                    agg = self._aggs.get(key)
                    value = agg.value(mode) if agg is not None else None
                    if value is None:
                        continue
                out[key] = value
            out.update(self._explicit)
            return out

    def delta(self) -> dict[str, Any]:
        """Keys that changed since the last emitted summary; marks them emitted."""
        with self._lock:
            now = self.computed()
            delta = {k: v for k, v in now.items() if changed(self._emitted.get(k, MISSING), v)}
            self._emitted.update(delta)
            return delta

    def restore(self, last: Mapping[str, Any]) -> None:
        """Load a resumed run's summary; it counts as emitted, new logs build on it."""
        with self._lock:
            self._last.update(last)
            for key, value in last.items():
                if self._mode(key) in ("min", "max", "mean") and type(value) in (int, float):
                    self._aggs.setdefault(key, _Agg()).add(value)
            self._emitted.update(self.computed())

    # -- user API ----------------------------------------------------------

    def update(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        items = dict(data or {}, **kwargs)
        clean = {}
        for key, value in items.items():
            key = check_key(key, "summary")
            clean[key], _ = convert(value, key, "summary")
        if not clean:
            return
        check_flat_collisions(clean, "summary")
        with self._lock:
            self._explicit.update(clean)
            self._emitted.update(clean)
            if self._emit is not None:
                self._emit(clean)

    def as_dict(self) -> dict[str, Any]:
        return self.computed()

    def get(self, key: str, default: Any = None) -> Any:
        return self.computed().get(key, default)

    def keys(self) -> Any:
        return self.computed().keys()

    def items(self) -> Any:
        return self.computed().items()

    def __getitem__(self, key: str) -> Any:
        return self.computed()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __contains__(self, key: object) -> bool:
        return key in self.computed()

    def __iter__(self) -> Iterator[str]:
        return iter(self.computed())

    def __len__(self) -> int:
        return len(self.computed())

    def __repr__(self) -> str:
        return f"Summary({self.computed()!r})"
