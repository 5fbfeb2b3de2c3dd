"""A shared run's other writer streams, as the server shows them: under their label.

A shared run (docs/FORMAT.md, "Streams") has its primary stream in ``log/``
and one stream per other process in ``streams/<label>/``. The server shows one
run: the primary's records as a plain run's, and every other stream's under
its label, so that no rank overwrites another's and nothing is dropped.
`namespaced` rewrites a non-primary record before any sink maps it:

=============  ================================================================
record         becomes
=============  ================================================================
history        its keys under ``<label>/`` (``loss`` -> ``rank_3/loss``)
stats          under ``<label>/``; a sink's ``system/`` prefix goes first
               (``system/rank_3/cpu_utilization_percentage``)
config,        under ``<label>/`` (params ``rank_3/lr``, tags
summary        ``summary.rank_3/best``)
metric_def     its ``name`` and ``step_metric`` under ``<label>/``
media          its ``key`` under ``<label>/``
alert          its ``title`` under ``<label>/``
others         unchanged; the sink knows the label for what is not a key:
               run (identity tags of the stream), console (``output.<label>.log``),
               file (``<label>/<path>``), resume (no reopen), exit (the
               stream's status; the run's only when the primary has none)
=============  ================================================================

Sink-independent, so ``runwal export`` names what it writes the same way.
"""

from __future__ import annotations

from typing import Any

from schema.records import Record


def _under(label: str, body: Any) -> Any:
    return {label: body} if isinstance(body, dict) else body


def _prefixed(label: str, value: Any) -> Any:
    return f"{label}/{value}" if isinstance(value, str) and value else value


def namespaced(rec: Record, label: str) -> Record:
    """``rec`` of stream ``label`` with its user-chosen names under the label."""
    if not label:
        return rec
    kind, body = rec.kind, rec.body
    if kind in ("history",) and isinstance(body, dict):
        body = {**body, "data": _under(label, body.get("data", {}))}
    elif kind in ("stats", "config", "summary"):
        body = _under(label, body)
    elif kind == "metric_def" and isinstance(body, dict):
        body = {**body, "name": _prefixed(label, body.get("name")),
                "step_metric": _prefixed(label, body.get("step_metric"))}
    elif kind == "media" and isinstance(body, dict):
        body = {**body, "key": _prefixed(label, body.get("key"))}
    elif kind == "alert" and isinstance(body, dict):
        body = {**body, "title": _prefixed(label, body.get("title", "alert"))}
    else:
        return rec
    return rec._replace(body=body)
