"""Faults the real server cannot produce on demand, injected at the httpx
transport seam: 5xx, 429, dropped connections, auth headers, a permanent 400."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from syncer.errors import AuthFailed, BadResponse, RunGone, ServerUnavailable
from syncer.sinks.mlflow.rest import MlflowRest, build_client
from syncer.sinks.mlflow.retry import RetryPolicy
from syncutil import T0, R, client, run_with, training_records, write_run


class Faulty(httpx.BaseTransport):
    """Forwards to the real server, but ``fault(n, request)`` may answer instead."""

    def __init__(self, fault: Callable[[int, httpx.Request], httpx.Response | None]):
        self.inner = httpx.HTTPTransport()
        self.fault = fault
        self.count = 0
        self.lock = threading.Lock()
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.count += 1
            n = self.count
            self.seen.append(request)
        answer = self.fault(n, request)
        if answer is not None:
            return answer
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_5xx_429_and_resets_are_retried(tmp_path: Path, mlflow_uri: str) -> None:
    def fault(n: int, req: httpx.Request) -> httpx.Response | None:
        if n in (2, 7):
            return httpx.Response(500, json={"error_code": "INTERNAL_ERROR"})
        if n in (4, 9):
            return httpx.Response(429, headers={"Retry-After": "0.01"})
        if n in (5, 11):
            raise httpx.RemoteProtocolError("peer closed connection", request=req)
        if n == 13:
            raise httpx.ConnectError("connection refused", request=req)
        return None

    rd = write_run(tmp_path, "flt00001", training_records(3000), project="p-faults")
    tr = Faulty(fault)
    res = run_with(rd, mlflow_uri, tr)
    assert res.status == "synced", res
    assert tr.count > 13
    hist = client(mlflow_uri).get_metric_history(res.server_run_id, "loss")
    assert sorted(m.step for m in hist) == list(range(3000))


def test_permanent_400_skips_only_the_bad_items(tmp_path: Path, mlflow_uri: str) -> None:
    recs = training_records(50)
    bad_key = "k" * 300  # over MLflow's 250-char key limit: a 400 for that row
    recs.insert(10, (R.HISTORY, T0 + 0.5, {"step": 7, "data": {bad_key: 1.0, "fine": 2.0}}))
    rd = write_run(tmp_path, "bad00001", recs, project="p-faults")
    res = run_with(rd, mlflow_uri)
    assert res.status == "partial" and res.finished
    assert len(res.rejected) == 1
    rej = res.rejected[0]
    assert rej.seq == 10 and bad_key in rej.key and "250" in rej.reason
    c = client(mlflow_uri)
    assert len(c.get_metric_history(res.server_run_id, "fine")) == 1
    assert len(c.get_metric_history(res.server_run_id, "loss")) == 50
    assert c.get_run(res.server_run_id).info.status == "FINISHED"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MLFLOW_TRACKING_TOKEN": "s3cret"}, "Bearer s3cret"),
        (
            {"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw"},
            "Basic " + base64.b64encode(b"ann:pw").decode(),
        ),
    ],
)
def test_auth_header_sent_and_never_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for k in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    headers: list[str | None] = []

    def handler(req: httpx.Request) -> httpx.Response:
        headers.append(req.headers.get("authorization"))
        path = req.url.path
        if path.endswith("get-by-name"):
            return httpx.Response(200, json={"experiment": {"experiment_id": "7"}})
        if path.endswith("runs/search"):
            return httpx.Response(200, json={})
        if path.endswith("runs/create"):
            info = {"run_id": "r1", "artifact_uri": "mlflow-artifacts:/7/r1/artifacts"}
            return httpx.Response(200, json={"run": {"info": info, "data": {}}})
        return httpx.Response(200, json={})

    rd = write_run(tmp_path, "auth0001", training_records(5), project="p")
    res = run_with(rd, "http://tracking.invalid", httpx.MockTransport(handler))
    assert res.status == "synced", res
    assert headers and all(h == expected for h in headers)
    secret = expected.split(" ", 1)[1]
    for f in (rd / "sync").iterdir():
        assert secret not in f.read_text(errors="replace")
        assert env.get("MLFLOW_TRACKING_PASSWORD", "s3cret") not in f.read_text(errors="replace")


def test_401_fails_the_run_instead_of_skipping_records(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda req: httpx.Response(401, json={"message": "no"}))
    rd = write_run(tmp_path, "auth0002", training_records(5), project="p")
    res = run_with(rd, "http://tracking.invalid", transport)
    assert res.status == "failed" and "401" in res.reason and "MLFLOW_TRACKING" in res.reason
    with build_client(transport=transport) as http, pytest.raises(AuthFailed):
        MlflowRest("http://tracking.invalid", http).ping(deadline=1)


def test_server_down_gives_up_at_the_deadline(tmp_path: Path) -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503)

    with build_client(transport=httpx.MockTransport(handler)) as http:
        rest = MlflowRest("http://x.invalid", http, retry=RetryPolicy(base=0.01, deadline=0.3))
        with pytest.raises(ServerUnavailable, match="HTTP 503"):
            rest.ping(deadline=0.3)
    assert len(calls) > 1


def _server(log_batch: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    """Answers a first sync like MLflow does, with ``log_batch`` for runs/log-batch."""

    def handler(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if path.endswith("get-by-name"):
            return httpx.Response(200, json={"experiment": {"experiment_id": "7"}})
        if path.endswith("runs/create"):
            info = {"run_id": "r1", "artifact_uri": "mlflow-artifacts:/7/r1/artifacts"}
            return httpx.Response(200, json={"run": {"info": info, "data": {}}})
        if path.endswith("runs/log-batch"):
            return log_batch(req)
        return httpx.Response(200, json={})

    return httpx.MockTransport(handler)


def test_a_deleted_server_run_fails_the_pass_instead_of_rejecting_every_value(
    tmp_path: Path,
) -> None:
    message = "The run r1 must be in the 'active' state. Current state is deleted."
    transport = _server(lambda req: httpx.Response(
        400, json={"error_code": "INVALID_PARAMETER_VALUE", "message": message}))
    rd = write_run(tmp_path, "gone0001", training_records(5), project="p")
    res = run_with(rd, "http://tracking.invalid", transport)
    assert res.status == "failed" and not res.retryable and res.rejected == []
    assert "'active' state" in res.reason and RunGone.hint in res.reason


def test_an_unreadable_answer_is_a_sync_failure_not_a_traceback(tmp_path: Path) -> None:
    def log_batch(req: httpx.Request) -> httpx.Response:
        raise httpx.DecodingError("bad gzip", request=req)

    rd = write_run(tmp_path, "dec00001", training_records(5), project="p")
    res = run_with(rd, "http://tracking.invalid", _server(log_batch))
    assert res.status == "failed" and not res.retryable
    assert "DecodingError: bad gzip" in res.reason and BadResponse.hint in res.reason
