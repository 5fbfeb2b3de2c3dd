"""``run.summary``: the final value per key, a dict-like view that emits SUMMARY deltas.

The summary follows wandb: unless the user sets a key explicitly, a history
key's summary is its last logged value, or its min/max/mean when
``define_metric(summary=...)`` says so. ``observe()`` runs on every log(), so
it costs one dict update plus, only when metric rules exist, one cached rule
lookup per key; the computed summary is emitted as one delta at finish()
instead of per log() call. Like CONFIG, a SUMMARY record holds only the keys
that changed since the last one.

A rich value set explicitly (``summary["best_sample"] = Image(...)``, a
Table, a figure) is kept as wandb keeps it, by reference: the run writes a
``media`` record of it at its current step under that key, and the summary
holds ``{"_type": "image-file", "path", "sha256", ...}`` naming the file
(media/logged.py, ``summary_media``; the run's ``media`` callback).

define_metric's ``summary`` as wandb spells it: one mode or a comma list
("min,max"); ``best`` is ``min`` or ``max`` by ``goal`` ("minimize", the
default, or "maximize"), ``copy`` is ``last``, ``first`` keeps the first value,
``none`` leaves the key out of the summary. Where wandb nests the results
(``loss.min``), runwal keeps the first mode's value at the key itself
(``summary["loss"]`` is the min: MLflow has no nested summaries, and a run
reads the same in both halves) and any further mode at ``<key>/<mode>``.
"""

from __future__ import annotations

import fnmatch
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from logwriter.media.base import Media
from logwriter.media.figures import is_figure
from logwriter.values.convert import MISSING, changed, check_flat_collisions, check_key, convert

Emit = Callable[[dict[str, Any]], None]
# rich values by key -> the references the summary keeps (Run._summary_media)
MediaSink = Callable[[dict[str, Any]], dict[str, Any]]
SUMMARY_MODES = ("min", "max", "mean", "last", "none")  # what a metric_def record holds
WANDB_SUMMARY_MODES = (*SUMMARY_MODES, "first", "best", "copy")
GOALS = ("minimize", "maximize")
_LAST: tuple[str, ...] = ("last",)  # the rule of a key no define_metric names


def parse_modes(summary: Any, goal: Any = None) -> tuple[str, ...]:
    """define_metric(summary=, goal=) as runwal's modes, in order; ValueError naming
    what is wrong. () when no summary rule is given."""
    if goal is not None and goal not in GOALS:
        raise ValueError(f"runwal: define_metric(goal={goal!r}): expected one of "
                         f"{', '.join(GOALS)}")
    if summary is None:
        return ()
    if not isinstance(summary, str):
        raise TypeError("runwal: define_metric(summary=) must be a str like 'min' or 'min,max'")
    out: list[str] = []
    for raw in summary.split(","):
        mode = raw.strip().lower()
        if mode not in WANDB_SUMMARY_MODES:
            raise ValueError(f"runwal: define_metric(summary={summary!r}): expected one of "
                             f"{', '.join(WANDB_SUMMARY_MODES)} (or a comma list of them)")
        mode = {"copy": "last", "best": "max" if goal == "maximize" else "min"}.get(mode, mode)
        if mode not in out:
            out.append(mode)
    return tuple(out)


def metric_def(name: Any, step_metric: Any = None, step_sync: Any = None, hidden: Any = None,
               summary: Any = None, goal: Any = None, overwrite: Any = None
               ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """define_metric()'s arguments checked: (the METRIC_DEF body, the summary modes).

    The body holds FORMAT.md's keys (``summary``: the first mode a metric_def
    record may name, or None), plus wandb's ``summaries`` (every mode, when more
    than that one), ``goal``, ``step_sync`` and ``overwrite`` when given, which
    readers that do not know them ignore.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("runwal: define_metric(): name must be a non-empty str")
    check_key(name, "define_metric()")
    if step_metric is not None:
        if not isinstance(step_metric, str):
            raise TypeError("runwal: define_metric(): step_metric must be a str")
        check_key(step_metric, "define_metric(step_metric=)")
    modes = parse_modes(summary, goal)
    first = next((m for m in modes if m in SUMMARY_MODES), None)
    body: dict[str, Any] = {"name": name, "step_metric": step_metric, "summary": first,
                            "hidden": bool(hidden)}
    if len(modes) > 1 or (modes and first is None):
        body["summaries"] = list(modes)
    for key, value in (("goal", goal), ("step_sync", step_sync), ("overwrite", overwrite)):
        if value is not None:
            body[key] = value if key == "goal" else bool(value)
    return body, modes


class _Agg:
    __slots__ = ("count", "first", "max", "min", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.first = math.nan

    def add(self, v: float) -> None:
        if not self.count:
            self.first = v
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
        if mode == "first":
            return self.first
        return self.total / self.count


class Summary:
    """Final values per key; explicit sets emit at once, computed ones at finish()."""

    def __init__(self, emit: Emit | None = None, media: MediaSink | None = None) -> None:
        self._emit = emit
        self._media = media
        self._lock = threading.RLock()
        self._last: dict[str, Any] = {}
        self._explicit: dict[str, Any] = {}
        self._emitted: dict[str, Any] = {}
        self._exact: dict[str, tuple[str, ...]] = {}  # metric name -> modes
        self._globs: list[tuple[str, tuple[str, ...]]] = []  # newest last
        self._rule_cache: dict[str, tuple[str, ...]] = {}
        self._aggs: dict[str, _Agg] = {}

    # -- fed by the run ----------------------------------------------------

    def observe(self, row: dict[str, Any]) -> None:
        """Account one committed history row (hot path)."""
        self._last.update(row)
        if self._exact or self._globs:
            for key, value in row.items():
                modes = self._rule_cache.get(key)
                if modes is None:
                    modes = self._rule_cache[key] = self._modes(key)
                if modes != _LAST and type(value) in (int, float):
                    agg = self._aggs.get(key)
                    if agg is None:
                        agg = self._aggs[key] = _Agg()
                    agg.add(value)

    def define(self, name: str, modes: str | tuple[str, ...] | None) -> None:
        """Register a define_metric() summary rule (`parse_modes`' modes, or one mode);
        ``name`` may be a glob."""
        if isinstance(modes, str):
            modes = (modes,)
        if not modes:
            return
        with self._lock:
            if any(ch in name for ch in "*?["):
                self._globs.append((name, modes))
            else:
                self._exact[name] = modes
            self._rule_cache.clear()

    def _modes(self, key: str) -> tuple[str, ...]:
        modes = self._exact.get(key)
        if modes is not None:
            return modes
        for pattern, m in reversed(self._globs):
            if fnmatch.fnmatchcase(key, pattern):
                return m
        return _LAST

    def computed(self) -> dict[str, Any]:
        """The whole summary as the user would see it now."""
        with self._lock:
            out: dict[str, Any] = {}
            for key, last in self._last.items():
                modes = self._modes(key)
                if modes == _LAST:
                    out[key] = last
                    continue
                if "none" in modes:
                    continue
                for i, mode in enumerate(modes):
                    if mode == "last":
                        value = last
                    else:
                        agg = self._aggs.get(key)
                        value = agg.value(mode) if agg is not None else None
                        if value is None:
                            continue
                    out[key if i == 0 else f"{key}/{mode}"] = value
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
                if self._modes(key) != _LAST and type(value) in (int, float):
                    self._aggs.setdefault(key, _Agg()).add(value)
            self._emitted.update(self.computed())

    # -- user API ----------------------------------------------------------

    def update(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        items = dict(data or {}, **kwargs)
        clean = {}
        rich = {}
        for key, value in items.items():
            key = check_key(key, "summary")
            if _is_rich(value):
                rich[key] = value
                continue
            clean[key], _ = convert(value, key, "summary")
        if rich:  # after the plain values passed: a bad one leaves no media record
            check_flat_collisions({**clean, **rich}, "summary")
            if self._media is None:
                raise TypeError(f"runwal: summary: key {next(iter(rich))!r} holds a rich "
                                "value, which only a run's summary can keep")
            clean.update(self._media(rich))
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


def _is_rich(value: Any) -> bool:
    """A value the summary keeps by reference: a Media, a figure, a list of Media."""
    if isinstance(value, (list, tuple)):
        return bool(value) and isinstance(value[0], Media)
    return isinstance(value, Media) or is_figure(value)
