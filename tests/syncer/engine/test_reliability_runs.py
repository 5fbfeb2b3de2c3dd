"""Hostile and pathological run directories against a real MLflow server: files
outside the run are never uploaded, one bad run never stops a batch, and the
slow paths (a refused metric name, thousands of segments) stay fast."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from faultproxy import FaultProxy
from schema import layout
from syncutil import (
    T0,
    R,
    append_segment,
    artifact,
    artifact_names,
    client,
    run_with,
    runs_tagged,
    training_records,
    write_run,
)


def sync_json(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "syncer.cli", "sync", *args, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    runs = {r["run_id"]: r for r in json.loads(proc.stdout)["runs"]}
    return proc, runs


def file_rec(path: str) -> tuple[int, float, Any]:
    return (R.FILE, T0 + 0.5, {"path": path, "size": 1})


# -- nothing outside the run dir is read for upload ------------------------------


def test_links_and_escaping_paths_are_refused_per_file_and_the_rest_syncs(
    tmp_path: Path, mlflow_uri: str
) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("TOPSECRET")
    (outside / "dir" / "inner.txt").write_text("TOPSECRET")
    bad = {
        "link_file": "a symbolic link",  # files/link_file -> a file outside
        "link_dir": "a symbolic link",  # files/link_dir -> a directory outside
        "link_dir/inner.txt": "files/link_dir is a symbolic link",
        "alias/ok.txt": "files/alias is a symbolic link",  # a link to a dir inside files/
        "real/up": "a symbolic link",  # a relative link climbing out
        "../outside/secret.txt": "'..'",
        str(outside / "secret.txt"): "absolute path",
        "real": "not a regular file",
    }
    recs = training_records(20)
    for path in ["good.txt", "real/ok.txt", *bad]:
        recs.insert(-1, file_rec(path))
    rd = write_run(tmp_path / "runs", "links001", recs, project="rel-files")
    files = rd / "files"
    (files / "good.txt").write_text("fine")
    (files / "real").mkdir()
    (files / "real" / "ok.txt").write_text("also fine")
    (files / "link_file").symlink_to(outside / "secret.txt")
    (files / "link_dir").symlink_to(outside / "dir")
    (files / "alias").symlink_to(files / "real")
    (files / "real" / "up").symlink_to("../../../../outside/secret.txt")

    proc, runs = sync_json(str(rd), "--to", mlflow_uri)
    res = runs["links001"]
    assert proc.returncode == 0 and res["status"] == "partial" and res["finished"], res
    got = {line.split(": ", 1)[0].split("file ", 1)[1]: line for line in res["rejected"]}
    assert set(got) == set(bad), res["rejected"]
    for path, why in bad.items():
        assert why in got[path], got[path]
    sid = res["server_run_id"]
    assert artifact_names(mlflow_uri, sid) == {"good.txt", "real"}
    assert artifact(mlflow_uri, sid, "real/ok.txt") == b"also fine"
    assert len(client(mlflow_uri).get_metric_history(sid, "loss")) == 20


def test_a_files_dir_that_is_a_link_uploads_nothing(tmp_path: Path, mlflow_uri: str) -> None:
    outside = tmp_path / "etc_like"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0")
    recs = training_records(5)
    recs.insert(-1, file_rec("passwd"))
    rd = write_run(tmp_path / "runs", "links002", recs, project="rel-files")
    (rd / "files").rmdir()
    (rd / "files").symlink_to(outside)
    _, runs = sync_json(str(rd), "--to", mlflow_uri)
    res = runs["links002"]
    assert res["status"] == "partial" and len(res["rejected"]) == 1, res
    assert "files is a symbolic link" in res["rejected"][0]
    assert artifact_names(mlflow_uri, res["server_run_id"]) == set()


# -- one bad run never stops the batch -------------------------------------------


def _run_json(root: Path, run_id: str, text: str) -> None:
    (root / run_id).mkdir(parents=True)
    (root / run_id / "run.json").write_text(text)


def test_bad_runs_fail_alone_with_one_line_and_the_batch_syncs(
    tmp_path: Path, mlflow_uri: str
) -> None:
    root = tmp_path / "runs"
    project = '"project": "rel-batch"'
    weird_created = {"ctimenan": "NaN", "ctimeinf": "Infinity", "ctimeneg": "-Infinity",
                     "ctimehuge": "1e300", "ctimebig": "9" * 400}
    for run_id, created in weird_created.items():
        _run_json(root, run_id, f'{{"run_id": "{run_id}", {project}, "created": {created}}}')
        write_run(root, run_id, training_records(10))
    _run_json(root, "oddtypes", '{"run_id": "oddtypes", "project": ["rel", "batch"], '
                                '"name": {"a": 1}, "created": "yesterday"}')
    write_run(root, "oddtypes", training_records(10))
    nan, inf = math.nan, math.inf
    odd_ts: list[tuple[int, float, Any]] = [(R.RUN, nan, {"host": "h"})]
    for step, ts in enumerate([T0, nan, inf, -inf, 1e300, -1e18, float(2**64), T0 + 1]):
        odd_ts.append((R.HISTORY, ts, {"step": step, "data": {"loss": float(step)}}))
    odd_ts.append((R.EXIT, nan, {"code": 0, "status": "finished"}))
    write_run(root, "oddts001", odd_ts, project="rel-batch")
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):  # past the 64 levels flattened into keys
        node["x"] = {}
        node = node["x"]
    odd_bodies: list[tuple[int, float, Any]] = [
        (R.CONFIG, T0, {"lr": 0.1}),
        (R.CONFIG, T0, {"blob": b"\x00\xff", 7: "int key", "deep": deep}),
        (R.HISTORY, T0, {"step": 0, "data": 5}),
        (R.HISTORY, T0, [1, 2, 3]),
        (R.HISTORY, T0, {"step": "x", "data": {"loss": 1.0}}),
        (R.SUMMARY, T0, {"nested": [[[[[[[]]]]]]], "": 1, "top@1": 0.5}),
        (R.HISTORY, T0, {"step": 1, "data": {"loss": 1.0, "top@1": 0.9, "a//b": 1.0}}),
        (R.EXIT, T0 + 1, {"code": 0, "status": "finished"}),
    ]
    write_run(root, "oddbody1", odd_bodies, project="rel-batch")
    (root / "notarun0").write_text("a file named on the command line is no run")
    write_run(root, "good0001", training_records(30), project="rel-batch")

    proc, runs = sync_json(str(root), str(root / "notarun0"), "--to", mlflow_uri,
                           "--workers", "2")
    assert proc.returncode == 1, proc.stderr  # notarun0 fails; nothing else may end the batch
    assert runs["good0001"]["status"] == "synced"
    assert runs["notarun0"]["status"] == "failed"
    for res in runs.values():
        assert "\n" not in res["reason"] and "internal error" not in res["reason"], res
    for run_id in [*weird_created, "oddtypes", "oddts001", "oddbody1"]:
        assert runs[run_id]["status"] in ("synced", "partial"), runs[run_id]
        assert runs[run_id]["finished"], runs[run_id]
    (server_run,) = runs_tagged(mlflow_uri, "rel-batch", "oddts001")
    hist = client(mlflow_uri).get_metric_history(server_run.info.run_id, "loss")
    assert sorted(m.step for m in hist) == list(range(8))
    assert all(0 <= m.timestamp < 2**63 for m in hist)
    body = runs["oddbody1"]
    assert sum("top@1" in r for r in body["rejected"]) == 2  # the metric and the summary tag
    (server_run,) = runs_tagged(mlflow_uri, "rel-batch", "oddbody1")
    assert server_run.data.params["lr"] == "0.1"
    again, _ = sync_json(str(root), str(root / "notarun0"), "--to", mlflow_uri)
    assert again.returncode == 1  # still only the dir that is no run


# -- slow paths --------------------------------------------------------------------


def test_a_metric_name_mlflow_refuses_is_rejected_once_not_bisected(
    tmp_path: Path, mlflow_uri: str
) -> None:
    steps = 3000
    recs = training_records(steps, keys=("loss", "top@1"))
    rd = write_run(tmp_path, "topat001", recs, project="rel-names")
    with FaultProxy(mlflow_uri) as proxy:
        _, runs = sync_json(str(rd), "--to", proxy.uri)
        batches = sum("log-batch" in entry[2] for entry in proxy.log)
    res = runs["topat001"]
    assert res["status"] == "partial" and res["finished"], res
    assert len(res["rejected"]) == 1 and "metric top@1" in res["rejected"][0], res["rejected"]
    assert batches <= 2 + steps // 1000 + 3, batches  # params, tags, 3 metric requests (+cuts)
    hist = client(mlflow_uri).get_metric_history(res["server_run_id"], "loss")
    assert len(hist) == steps


class RefusesColons(httpx.BaseTransport):
    """The real server, except that log-batch refuses any metric key with a ':' (as a
    Windows MLflow server does): a rule the client cannot know in advance."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.batches = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("runs/log-batch"):
            self.batches += 1
            body = json.loads(request.read())
            if any(":" in m["key"] for m in body.get("metrics", [])):
                return httpx.Response(400, json={"error_code": "INVALID_PARAMETER_VALUE",
                                                 "message": "Invalid metric name"})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_key_the_server_refuses_is_learnt_from_its_first_row(
    tmp_path: Path, mlflow_uri: str
) -> None:
    steps = 2000
    rd = write_run(tmp_path, "colon001", training_records(steps, keys=("loss", "val:acc")),
                   project="rel-names")
    transport = RefusesColons()
    res = run_with(rd, mlflow_uri, transport)
    assert res.finished and [r.key for r in res.rejected] == ["val:acc"], res.rejected
    # Each of the 4 parallel 1000-row requests bisects down to its first bad row
    # (~2 log2(1000) requests), the rest is dropped client-side: ~100, not ~8000.
    assert transport.batches < 200, transport.batches
    assert len(client(mlflow_uri).get_metric_history(res.server_run_id, "loss")) == steps


def test_thousands_of_small_segments_list_the_log_dir_once_per_pass(
    tmp_path: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = training_records(998)  # RUN, CONFIG, 998 rows, EXIT: 1001 records
    rd = write_run(tmp_path, "segs0001", recs[:1], project="rel-segs")
    for seq in range(1, len(recs)):
        append_segment(rd, [recs[seq]], base_seq=seq)
    assert len(os.listdir(rd / "log")) == len(recs)
    listings = [0]
    real = layout.list_segments

    def counting(log_dir: Any) -> Any:
        listings[0] += 1
        return real(log_dir)

    monkeypatch.setattr(layout, "list_segments", counting)
    res = run_with(rd, mlflow_uri)
    assert res.status == "synced", res
    assert listings[0] <= 5, listings[0]
    assert len(client(mlflow_uri).get_metric_history(res.server_run_id, "loss")) == 998


def test_junk_after_the_exit_record_is_said_but_the_run_is_synced(
        tmp_path: Path, mlflow_uri: str) -> None:
    """Nothing was lost: the run is synced (not partial), and the note says why."""
    root = tmp_path / "runs"
    write_run(root, "junkexit", training_records(20), project="rel-junk")
    seg = next((root / "junkexit" / "log").glob("*.seg"))
    with seg.open("ab") as fh:
        fh.write(b"\xab" * 40)
    proc, runs = sync_json(str(root), "--to", mlflow_uri)
    assert proc.returncode == 0, proc.stderr
    res = runs["junkexit"]
    assert res["status"] == "synced" and res["finished"], res
    assert any("after the run's exit record" in n and "lost no records" in n
               for n in res["notes"]), res
