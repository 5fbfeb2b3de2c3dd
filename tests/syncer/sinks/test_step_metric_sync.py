"""define_metric(step_metric=) honoured on the real MLflow server: a matched key is
plotted against the user's x-axis; the rule survives a pass boundary (checkpoint)."""

from __future__ import annotations

from pathlib import Path

from mediautil import counting_rest, history
from runbuilder import T0, append_segment, build_run
from schema.records import RecordType as R
from syncer.sinks.mlflow.mapping import MapState
from syncer.sinks.mlflow.stepmetric import StepMetrics


def _def(ts: float, name: str, step_metric: str | None) -> tuple[int, float, dict[str, object]]:
    return (R.METRIC_DEF, ts, {"name": name, "step_metric": step_metric, "summary": None,
                               "hidden": False})


def test_step_metric_is_the_step_mlflow_plots_against(tmp_path: Path, mlflow_uri: str) -> None:
    recs = [
        (R.RUN, T0, {"host": "h"}),
        _def(T0 + 0.1, "val/*", "epoch"),
        _def(T0 + 0.2, "val/loss", "val/step"),  # an exact name wins over the glob
    ]
    recs += [(R.HISTORY, T0 + 1 + s, {"step": s, "data": {"train/loss": 1.0 / (s + 1)}})
             for s in range(10)]
    recs += [
        (R.HISTORY, T0 + 20, {"step": 10, "data": {"val/acc": 0.5, "epoch": 1,
                                                   "val/loss": 0.9, "val/step": 100}}),
        (R.HISTORY, T0 + 21, {"step": 20, "data": {"val/acc": 0.7, "epoch": 2.0}}),
        (R.HISTORY, T0 + 22, {"step": 25, "data": {"val/acc": 0.71}}),  # no epoch: global
        (R.HISTORY, T0 + 23, {"step": 26, "data": {"val/acc": 0.72, "epoch": 2.5}}),  # not int
    ]
    rd = build_run(tmp_path, recs, run_id="stp00001", project="p-step")
    with counting_rest(mlflow_uri) as cr:
        first = cr.sync(rd)
        assert first.status == "partial" and not first.rejected  # live: no exit yet
        run_id = first.server_run_id
        assert history(mlflow_uri, run_id, "val/acc") == [(1, 0.5), (2, 0.7), (25, 0.71),
                                                         (26, 0.72)]
        assert history(mlflow_uri, run_id, "val/loss") == [(100, 0.9)]
        assert history(mlflow_uri, run_id, "epoch") == [(10, 1.0), (20, 2.0), (26, 2.5)]
        assert [s for s, _ in history(mlflow_uri, run_id, "train/loss")] == list(range(10))

        # The next process of the run: the rules come back from the checkpoint.
        append_segment(rd, [
            (R.RESUME, T0 + 30, {"pid": 2, "host": "h"}),
            (R.HISTORY, T0 + 31, {"step": 30, "data": {"val/acc": 0.8, "epoch": 3}}),
            _def(T0 + 32, "val/*", None),  # the rule removed: global steps again
            (R.HISTORY, T0 + 33, {"step": 40, "data": {"val/acc": 0.9, "epoch": 4}}),
            (R.EXIT, T0 + 34, {"code": 0, "status": "finished", "runtime": 34.0}),
        ], base_seq=len(recs))
        second = cr.sync(rd)
        assert second.status == "synced", second
        assert history(mlflow_uri, run_id, "val/acc") == [(1, 0.5), (2, 0.7), (3, 0.8),
                                                         (25, 0.71), (26, 0.72), (40, 0.9)]
        again = cr.sync(rd)
        assert again.status == "skipped"
        assert len(history(mlflow_uri, run_id, "val/acc")) == 6


def test_step_metric_rules_and_an_old_checkpoint() -> None:
    rules = StepMetrics()
    rules.define("val/*", "epoch")
    rules.define("val/*/top[15]", "batch")
    assert rules.axis("val/acc") == "epoch"
    assert rules.axis("val/x/top5") == "batch"
    assert rules.axis("train/loss") is None
    assert rules.step("val/acc", {"epoch": True}, 7) == 7  # a bool is no step
    assert rules.step("val/acc", {"epoch": 2**70}, 7) == 7  # beyond int64
    state = MapState.from_json({"config": {}, "last_step": 3})  # a checkpoint from before
    assert state.steps.rules == [] and state.media.tables == [] and state.artifacts.logged == []
    state.steps.define("a", "b")
    again = MapState.from_json(state.to_json())
    assert again.steps.rules == [("a", "b")]
