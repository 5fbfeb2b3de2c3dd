"""When the replay engine cuts a batch: enough points, enough records, or enough time.

A batch is what a pass sends before it writes the checkpoint (replay.py), so
its size is a trade: bigger batches take fewer requests, smaller ones move
the checkpoint more often. Points per batch are at most `BATCH_POINTS`. A
batch ends at a frame boundary, so its last 1000-row request is usually
partial, and MLflow's cost per log-batch has a large fixed part (it loads the
run, its tags, params and latest metrics each time): with 4000 a 200k-point
run took 10% more requests than points/1000, ~2% at 20000. A crash re-sends
at most one batch, which the server deduplicates.

But a batch is also cut when sending it would take longer than
`BATCH_SECONDS` at the rate the server acknowledged so far in this pass
(`FIRST_BATCH_POINTS` before anything was measured): a syncer killed every
few seconds (preempted login node jobs, a flapping network) still moves its
checkpoint forward, where one 20k-point batch at a slow server's ~5k points/s
was never acknowledged in time.
"""

from __future__ import annotations

from schema.records import Record

BATCH_POINTS = 20000
BATCH_RECORDS = 4000
BATCH_SECONDS = 1.5
FIRST_BATCH_POINTS = 4000
MIN_BATCH_POINTS = 1000


def points(rec: Record) -> int:
    """What a record counts for in a batch: a history row's values, else 1."""
    body = rec.body
    data = body.get("data") if isinstance(body, dict) else None
    return len(data) if isinstance(data, dict) else 1


class BatchLimit:
    """How big the next batch of one pass may grow, from the send rate it measured."""

    def __init__(self) -> None:
        self.points = FIRST_BATCH_POINTS

    def full(self, points: int, records: int) -> bool:
        """Whether a batch of ``points`` in ``records`` is to be sent now."""
        return points >= self.points or records >= BATCH_RECORDS

    def measured(self, sent: int, took: float) -> None:
        """A batch of ``sent`` points was acknowledged in ``took`` seconds: the next one
        is about `BATCH_SECONDS` of sending (a small batch says too little to go by)."""
        if sent >= MIN_BATCH_POINTS and took > 0:
            self.points = max(MIN_BATCH_POINTS, min(BATCH_POINTS, int(sent / took * BATCH_SECONDS)))
