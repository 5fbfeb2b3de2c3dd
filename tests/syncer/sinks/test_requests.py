"""What a sync costs in requests, and what MLflow's UI shows of a runwal run.

Counted at a real TCP proxy in front of the real server (tests/faultproxy.py),
so the number is what the server saw, retries included.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from faultproxy import FaultProxy
from schema.layout import RunDir
from syncer.engine import checkpoint
from syncer.engine.replay import sync_run
from syncer.sinks.mlflow.knownruns import KnownRuns
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.sink import MlflowSink
from syncutil import append_segment, client, training_records, write_run


def _kinds(log: list[tuple[int, str, str, str]]) -> Counter[str]:
    return Counter(path.split("?")[0].split("/api/2.0/mlflow/")[-1] for _, _, path, _ in log)


def test_a_small_finished_run_is_six_requests_and_shows_its_user(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """The first run of a project also finds (here: creates) the experiment; every
    later one is runs/search (the find-or-create-once lookup), runs/create with its
    tags, runs/set-tag (its stamp) and runs/search again (another syncer's copy?
    runs.py's settle), one log-batch with params, tags and metrics, and the final
    runs/update."""
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
                               "runs/search": 2, "runs/create": 1, "runs/set-tag": 1,
                               "runs/log-batch": 1, "runs/update": 1}), seen[0]
    for later in seen[1:]:
        assert later == Counter({"runs/search": 2, "runs/create": 1, "runs/set-tag": 1,
                                 "runs/log-batch": 1, "runs/update": 1}), later
    run = client(mlflow_uri).get_run(results[1].server_run_id)
    assert run.info.user_id == "alice"
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    assert run.data.tags["mlflow.user"] == "alice"
    assert run.data.params == {"lr": "0.1", "opt/name": "sgd"}
    assert len(client(mlflow_uri).get_metric_history(run.info.run_id, "loss")) == 50
    found = client(mlflow_uri).search_runs([run.info.experiment_id],
                                           "attributes.user_id = 'alice'")
    assert {r.info.run_id for r in found} >= {r.server_run_id for r in results}


def test_a_live_runs_next_pass_skips_runs_get_until_another_process_synced_it(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """syncd gives a live run a pass per write: with the server's `KnownRuns` the pass
    after this process's own is one log-batch. A checkpoint another process moved (a
    `runwal sync` between two syncd passes) is looked up again, and a run deleted on
    the server is still found out, by the write."""
    recs = training_records(60, status=None)
    rd = write_run(tmp_path, "live001", recs[:12], project="p-known")
    seq = 12
    with FaultProxy(mlflow_uri) as proxy, build_client() as http:
        rest = MlflowRest(proxy.uri, http)
        known = KnownRuns()

        def one_pass(shared: KnownRuns | None) -> tuple[Counter[str], str]:
            nonlocal seq
            append_segment(rd, recs[seq:seq + 4], base_seq=seq)
            seq += 4
            before = len(proxy.log)
            sink = MlflowSink(rest, known=shared)
            try:
                res = sync_run(rd, sink, artifacts="defer")
            finally:
                sink.close()
            assert not res.rejected
            return _kinds(proxy.log[before:]), res.status

        one_pass(known)  # creates the server run
        assert one_pass(known) == (Counter({"runs/log-batch": 1}), "partial")
        assert one_pass(None)[0]["runs/get"] == 1  # another process: a sink of its own
        assert one_pass(known)[0] == Counter({"runs/get": 1, "runs/log-batch": 1})
        assert one_pass(known)[0] == Counter({"runs/log-batch": 1})
        ckpt = checkpoint.load(RunDir(rd), MlflowSink(rest).name)
        assert ckpt is not None
        client(mlflow_uri).delete_run(ckpt.server_run_id)
        append_segment(rd, recs[seq:seq + 4], base_seq=seq)
        sink = MlflowSink(rest, known=known)
        try:
            res = sync_run(rd, sink, artifacts="defer")
        finally:
            sink.close()
    assert res.status == "failed" and not res.rejected, res
    assert "active" in res.reason or "exist" in res.reason, res.reason
    after = checkpoint.load(RunDir(rd), MlflowSink(rest).name)
    assert after is not None and after.seq == ckpt.seq  # nothing acknowledged, nothing moved


def test_parallel_workers_look_up_a_new_experiment_once(tmp_path: Path, mlflow_uri: str) -> None:
    """`runwal sync` of 10 small runs of one new project with 4 workers: the workers used
    to each find the experiment missing and race to create it."""
    import json
    import subprocess
    import sys

    runs = tmp_path / "runs"
    for i in range(10):
        write_run(runs, f"par{i:03d}", training_records(20), project="p-parallel-exp")
    with FaultProxy(mlflow_uri) as proxy:
        proc = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", str(runs), "--to",
                               proxy.uri, "--workers", "4", "--json"], capture_output=True,
                              text=True, timeout=300)
        kinds = _kinds(proxy.log)
        lookups = [path for _, _, path, _ in proxy.log if "p-parallel-exp" in path]
    assert {r["status"] for r in json.loads(proc.stdout)["runs"]} == {"synced"}, proc.stderr
    assert len(lookups) == 1 and kinds["experiments/create"] == 1, (lookups, kinds)
    # + the connection check (a get-by-name of "Default"), + 6 per run (as above)
    assert sum(kinds.values()) == 1 + 2 + 6 * 10, kinds
