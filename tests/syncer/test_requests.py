"""What a sync costs in requests, and what MLflow's UI shows of a runwal run.

Counted at a real TCP proxy in front of the real server (tests/faultproxy.py),
so the number is what the server saw, retries included.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from faultproxy import FaultProxy
from syncer.engine.replay import sync_run
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.sink import MlflowSink
from syncutil import client, training_records, write_run


def _kinds(log: list[tuple[int, str, str, str]]) -> Counter[str]:
    return Counter(path.split("?")[0].split("/api/2.0/mlflow/")[-1] for _, _, path, _ in log)


def test_a_small_finished_run_is_four_requests_and_shows_its_user(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """The first run of a project also finds (here: creates) the experiment; every
    later one is runs/search (the find-or-create-once lookup), runs/create with its
    tags, one log-batch with params, tags and metrics, and the final runs/update."""
    runs = [write_run(tmp_path, f"small{i:03d}", training_records(50), project="p-requests")
            for i in range(3)]
    with FaultProxy(mlflow_uri) as proxy, build_client() as http:
        rest = MlflowRest(proxy.uri, http)
        seen: list[Counter[str]] = []
        results = []
        for rd in runs:
            before = len(proxy.log)
            sink = MlflowSink(rest)
            try:
                results.append(sync_run(rd, sink))
            finally:
                sink.close()
            seen.append(_kinds(proxy.log[before:]))
    assert [r.status for r in results] == ["synced"] * 3
    assert seen[0] == Counter({"experiments/get-by-name": 1, "experiments/create": 1,
                               "runs/search": 1, "runs/create": 1, "runs/log-batch": 1,
                               "runs/update": 1}), seen[0]
    for later in seen[1:]:
        assert later == Counter({"runs/search": 1, "runs/create": 1, "runs/log-batch": 1,
                                 "runs/update": 1}), later
    run = client(mlflow_uri).get_run(results[1].server_run_id)
    assert run.info.user_id == "alice"
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    assert run.data.tags["mlflow.user"] == "alice"
    assert run.data.params == {"lr": "0.1", "opt/name": "sgd"}
    assert len(client(mlflow_uri).get_metric_history(run.info.run_id, "loss")) == 50
    found = client(mlflow_uri).search_runs([run.info.experiment_id],
                                           "attributes.user_id = 'alice'")
    assert {r.info.run_id for r in found} >= {r.server_run_id for r in results}
