"""A batch's params, tags and metrics as MLflow log-batch requests, 400s bisected.

Up to 100 params and 100 tags ride in the batch's first metrics request
(MLflow takes 1000 items in one log-batch; more go first, 100 per request), so
a small run's batch is one request, not three; then metrics in 1000-row
requests run a few at a time in parallel (the server's ingest ceiling needs
several connections). A request refused with 400 (413, 422) is split in
halves until the offending items are isolated; those become `Rejection`s and
the rest is delivered. A metric key refused that way is dropped client-side
for the rest of the pass (``refused``, shared with `names.screen`), so its
other rows are not bisected down to one by one. Why re-sending any of these
requests is harmless is the sink's docstring (sink.py).

What fails the pass instead of becoming a `Rejection`: `AuthFailed` and
`RunGone` always (`FATAL`: every later request would fail the same way), any
other `ServerRejected` when it cannot be pinned on one item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from syncer.errors import AuthFailed, RunGone, ServerRejected, SyncError
from syncer.sinks.base import Refused, Rejection
from syncer.sinks.mlflow.rest import MlflowRest

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ITEMS = 1000  # metrics + params + tags in one log-batch
FATAL = (AuthFailed, RunGone)  # never pinned on one item: the whole pass fails
_SPLITTABLE = frozenset({400, 413, 422})
_BATCH_FIELD = {Refused.METRIC: "metrics", Refused.PARAM: "params", Refused.TAG: "tags"}
Items = list[tuple[int, dict[str, Any]]]  # (the record's seq, the item) pairs


def reason(exc: SyncError) -> str:
    """What a `Rejection` records: the error without its hint, at most 300 chars."""
    return exc.message[-300:]


class LogBatches:
    """The log-batch requests of one sink; ``refused`` holds the keys refused in this
    pass, ``(Refused, key) -> reason``. Its threads (up to ``parallel``) are made on
    first use and joined by ``close``."""

    def __init__(self, rest: MlflowRest, parallel: int = 4):
        self.rest = rest
        self.parallel = max(1, parallel)
        self.refused: dict[tuple[Refused, str], str] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def send(self, run_id: str, params: Items, tags: Items,
             metrics: Items) -> Iterator[tuple[list[Rejection], int]]:
        """Everything to the server run ``run_id``: per request (or parallel chunk), as
        each is answered, the rejections and how many metric rows the server took."""
        # Up to 100 params and 100 tags ride in the first metrics request (MLflow takes
        # 1000 items in one log-batch): a small run's batch is one request, not three.
        ride = len(params) <= MAX_PARAMS and len(tags) <= MAX_TAGS
        if not ride:
            for i in range(0, len(params), MAX_PARAMS):
                yield self._log(run_id, Refused.PARAM, params[i : i + MAX_PARAMS])[0], 0
            for i in range(0, len(tags), MAX_TAGS):
                yield self._log(run_id, Refused.TAG, tags[i : i + MAX_TAGS])[0], 0
        rows = metrics
        head = min(MAX_METRICS, MAX_ITEMS - len(params) - len(tags)) if ride else MAX_METRICS
        chunks = [rows[:head]] + [rows[i : i + MAX_METRICS] for i in range(head, len(rows),
                                                                            MAX_METRICS)]
        first = (params, tags) if ride else ([], [])
        jobs = [(*first, chunks[0])] + [([], [], c) for c in chunks[1:]]
        results: Iterable[tuple[list[Rejection], int]]
        if len(jobs) > 1:
            results = self._executor().map(lambda j: self._log_all(run_id, *j), jobs)
        else:
            results = [self._log_all(run_id, *j) for j in jobs]
        yield from results

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="runwal-sink")
        return self._pool

    def _log_all(self, run_id: str, params: Items, tags: Items,
                 metrics: Items) -> tuple[list[Rejection], int]:
        """Params, tags and metrics in one log-batch; on a 400, each kind on its own
        (`_log` bisects it). Returns the rejections and how many metric rows the server took."""
        kinds = [(w, i) for w, i in ((Refused.PARAM, params), (Refused.TAG, tags),
                                     (Refused.METRIC, metrics)) if i]
        if len(kinds) <= 1:
            return self._log(run_id, *kinds[0]) if kinds else ([], 0)
        try:
            self.rest.log_batch(run_id, **{_BATCH_FIELD[w]: [p for s, p in i if (
                w, p["key"]) not in self.refused] for w, i in kinds})
            return [], sum(1 for _, m in metrics if (Refused.METRIC, m["key"]) not in self.refused)
        except FATAL:
            raise
        except ServerRejected as exc:
            if exc.status not in _SPLITTABLE:
                raise
        out: list[Rejection] = []
        delivered = 0
        for what, items in kinds:
            got, n = self._log(run_id, what, items)
            out += got
            delivered += n if what is Refused.METRIC else 0
        return out, delivered

    def _log(self, run_id: str, what: Refused, items: Items) -> tuple[list[Rejection], int]:
        """Send ``items`` in one request; on a 400 bisect to isolate the bad ones.
        Returns the rejections and how many items the server took."""
        items = [(s, i) for s, i in items if (what, i["key"]) not in self.refused]
        if not items:
            return [], 0
        try:
            self.rest.log_batch(run_id, **{_BATCH_FIELD[what]: [p for _, p in items]})
            return [], len(items)
        except FATAL:
            raise
        except ServerRejected as exc:
            if exc.status not in _SPLITTABLE:
                raise
            if len(items) == 1:
                seq, item = items[0]
                rejected = [Rejection(seq, what, item["key"], reason(exc))]
                if what is not Refused.METRIC:  # a param or tag is refused for its value too
                    return rejected, 0
                with self._lock:  # parallel chunks: the first to isolate the key reports it
                    if (what, item["key"]) in self.refused:
                        return [], 0
                    self.refused[(what, item["key"])] = reason(exc)
                return rejected, 0
        half = len(items) // 2
        first, n1 = self._log(run_id, what, items[:half])
        second, n2 = self._log(run_id, what, items[half:])
        return first + second, n1 + n2

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
