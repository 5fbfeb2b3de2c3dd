"""``define_metric(name, step_metric=)`` honoured in MLflow: the x-axis a user chose.

MLflow plots a metric against its rows' ``step``. A ``metric_def`` record says
that the keys matching ``name`` (exact, or a glob: `fnmatch.fnmatchcase`, so
``val/*`` matches ``val/acc``) are to be plotted against another key, e.g.
``epoch``. So a history row that holds both sends the matched key with
``step`` = that row's value of the step metric, when it is an integer value
(an int, or a float such as ``3.0``, within int64); rows without it, or with a
fractional one, keep the global step. The step metric itself stays at the
global step. An exact name wins over globs; among globs the one defined last
wins; defining a name again replaces its rule (``step_metric=None`` removes it).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_GLOB = frozenset("*?[")


@dataclass
class StepMetrics:
    """The rules so far, in definition order (persisted in the checkpoint)."""

    rules: list[tuple[str, str]] = field(default_factory=list)  # (name or glob, step_metric)
    _axis: dict[str, str | None] = field(default_factory=dict, repr=False)  # key -> axis cache

    def define(self, name: Any, step_metric: Any) -> None:
        if not isinstance(name, str) or not name:
            return
        self.rules = [r for r in self.rules if r[0] != name]
        if isinstance(step_metric, str) and step_metric:
            self.rules.append((name, step_metric))
        self._axis.clear()

    def axis(self, key: str) -> str | None:
        """The step metric ``key`` is plotted against, or None (the global step)."""
        if not self.rules:
            return None
        if key in self._axis:
            return self._axis[key]
        found = None
        for name, metric in reversed(self.rules):
            if name == key:
                found = metric
                break
            if found is None and _GLOB & set(name) and fnmatch.fnmatchcase(key, name):
                found = metric
        if found == key:
            found = None
        if len(self._axis) < 100_000:
            self._axis[key] = found
        return found

    def step(self, key: str, row: dict[str, Any], default: int) -> int:
        """The step to send ``key``'s value of ``row`` at."""
        metric = self.axis(key)
        if metric is None:
            return default
        value = row.get(metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return default
        if isinstance(value, float):
            if not value.is_integer():
                return default
            value = int(value)
        return value if INT64_MIN <= value <= INT64_MAX else default

    def to_json(self) -> list[list[str]]:
        return [[n, m] for n, m in self.rules]

    @classmethod
    def from_json(cls, data: Any) -> StepMetrics:
        rules = [(r[0], r[1]) for r in data or ()
                 if isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)]
        return cls(rules=rules)
