"""Keys MLflow refuses, refused here before anything is sent (pure: no network).

MLflow checks every metric, param and tag key the same way
(``mlflow.utils.validation``: ``validate_param_and_metric_name`` and
``path_not_unique``, MLflow 3.17): only alphanumerics (Unicode word
characters), ``_ - . / :`` and spaces; at most 250 characters; and, since keys
may become file names, a key must not read as another path once normalized
(``a//b``, ``./a``, ``a/``, ``..``, ``/a``). It answers such a key with a 400
for the *whole* request, so a key left to the server costs a bisection of its
1000-row request for every row that carries it. `screen` drops those rows
before they are sent and reports each key once per sink (one pass), whatever
the number of rows; a key the server still refuses (a rule this module does
not know, e.g. a Windows server refusing ``:``) is learnt by the sink from the
first row bisected down to it, the same way (`MlflowSink` adds it to
``refused``).
"""

from __future__ import annotations

import functools
import posixpath
import re

from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.mapping import Plan

MAX_KEY = 250
# MLflow's own pattern, ``$`` included (it also lets a trailing newline through).
_ALLOWED = re.compile(r"^[/\w.\- :]*$")
_ALLOWED_TEXT = (
    "MLflow allows only alphanumerics, underscores (_), dashes (-), periods (.), spaces, "
    "colons (:) and slashes (/) in a name"
)


@functools.lru_cache(maxsize=8192)
def key_problem(key: str) -> str | None:
    """Why MLflow would refuse ``key`` as a metric, param or tag key; None if it takes it."""
    if not key:
        return "an empty name"
    if len(key) > MAX_KEY:
        return f"a name of {len(key)} characters (MLflow's limit is {MAX_KEY})"
    if not _ALLOWED.match(key):
        bad = sorted({c for c in key if not _ALLOWED.match(c)})
        shown = " ".join(ascii(c) for c in bad[:5])
        return f"{_ALLOWED_TEXT}; this one has {shown}"
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        return f"MLflow refuses names that read as another path (this one as {norm!r})"
    return None


def screen(plan: Plan, refused: dict[tuple[Refused, str], str]) -> list[Rejection]:
    """Drop from ``plan`` every metric row, param and tag whose key MLflow refuses.

    ``refused`` maps (kind, key) to the reason, for keys already reported by this
    sink: their rows are dropped without another `Rejection`. New bad keys are
    added to it and reported once each, with the seq of their first row.
    """
    out: list[Rejection] = []

    def ok(what: Refused, seq: int, key: str) -> bool:
        if (what, key) in refused:
            return False
        why = key_problem(key)
        if why is None:
            return True
        refused[(what, key)] = why
        out.append(Rejection(seq, what, key, why))
        return False

    plan.metrics = [(s, row) for s, row in plan.metrics if ok(Refused.METRIC, s, row["key"])]
    plan.params = {k: v for k, v in plan.params.items() if ok(Refused.PARAM, v[0], k)}
    plan.tags = {k: v for k, v in plan.tags.items() if ok(Refused.TAG, v[0], k)}
    return out
