"""A thin client for the few MLflow REST endpoints the syncer needs.

runwal never imports mlflow: the tracking API is a handful of JSON calls, and
keeping them here (over one keep-alive ``httpx.Client``) makes the syncer a
small dependency that a test can point at ``httpx.MockTransport``.

The ``httpx.Client`` and its credentials are made by
`syncer.sinks.mlflow.client` (``build_client`` is re-exported here).

Errors: every httpx exception ends here. Transport errors are retried (see
`syncer.sinks.mlflow.retry`) and become `ServerUnavailable` at the deadline;
an answer that cannot be read becomes `BadResponse`; a permanent 4xx becomes
the `ServerRejected` subclass that says what it means (`refusal`), so the
sink decides by class and the engine never sees HTTP.
"""

from __future__ import annotations

import json as jsonlib
import re
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any
from urllib.parse import quote

import httpx

from schema.uri import public_uri
from syncer.errors import (
    AuthFailed,
    BadResponse,
    RunGone,
    ServerRejected,
    ServerUnavailable,
)
from syncer.sinks.mlflow.client import build_client
from syncer.sinks.mlflow.retry import RetryPolicy, send_with_retry

__all__ = ["API", "ARTIFACTS_API", "MlflowRest", "build_client", "encode_json", "refusal"]

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"


# MLflow answers a write to a deleted run with INVALID_PARAMETER_VALUE and "The
# run <id> must be in the 'active' state. Current state is deleted."; no error
# code of its own, so its words are the only sign (an experiment's says "experiment").
_RUN_NOT_ACTIVE = re.compile(r"\brun\b.*\bactive\b.*\bstate\b", re.IGNORECASE)


def refusal(status: int, error_code: str, message: str) -> type[ServerRejected]:
    """The `ServerRejected` class a permanent 4xx answer stands for."""
    if status in (401, 403):
        return AuthFailed
    if status == 400 and _RUN_NOT_ACTIVE.search(message):
        return RunGone
    return ServerRejected


def _error_of(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return "", resp.text[:300]
    if isinstance(body, dict):
        return str(body.get("error_code", "")), str(body.get("message", ""))[:500]
    return "", str(body)[:300]


def _rejection(resp: httpx.Response, what: str, code: str, message: str) -> ServerRejected:
    """The `ServerRejected` (sub)class instance for a permanent 4xx answer."""
    cls = refusal(resp.status_code, code, message)
    shown = message if cls is AuthFailed else f"{code} {message}"
    return cls(f"{what}: HTTP {resp.status_code} {shown}".strip(), status=resp.status_code,
               error_code=code)


def encode_json(obj: Any, what: str) -> bytes:
    """The request body; lone surrogates (Python's spelling of undecodable bytes in
    file names and argv) become U+FFFD instead of an encoding error, and a value JSON
    cannot hold is a 400-like `ServerRejected`, so the sink pins it on its item."""
    try:
        text = jsonlib.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise ServerRejected(f"{what}: cannot be sent as JSON ({exc})", status=400) from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


class MlflowRest:
    """One server, many threads: httpx.Client is thread-safe; so is this class."""

    def __init__(
        self,
        uri: str,
        client: httpx.Client,
        *,
        retry: RetryPolicy | None = None,
        stop: threading.Event | None = None,
    ):
        self.uri = uri.rstrip("/")
        self.client = client
        self.retry = retry or RetryPolicy()
        self.stop = stop
        # experiment name -> (id, monotonic time found): the runs of one project share
        # one lookup per process (`syncer.sinks.mlflow.runs.experiment_id`)
        self.experiments: dict[str, tuple[str, float]] = {}
        # held while one is looked up: parallel sync workers of one new project ask once
        self.experiments_lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        content: Any = None,
        deadline: float | None = None,
        ok_codes: tuple[str, ...] = (),
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """JSON response of a call; a `ServerRejected` (sub)class for a permanent
        4xx, ServerUnavailable past the retry deadline, BadResponse for an answer
        that cannot be read.

        ``ok_codes``: MLflow error codes the caller expects (returned as
        ``{"error_code": code}`` instead of raised). ``idempotent=False`` (a
        create): `AnswerLost` instead of a blind retry when the answer may have
        been lost after the server applied it (`syncer.sinks.mlflow.retry`).
        """
        url = f"{self.uri}{path}"
        what = f"{method} {public_uri(self.uri)}{path}"
        headers = None
        if json is not None:
            content, headers = encode_json(json, what), {"Content-Type": "application/json"}

        def do() -> httpx.Response:
            body = content() if callable(content) else content
            try:
                return self.client.request(method, url, params=params, content=body,
                                           headers=headers)
            finally:
                if hasattr(body, "close"):
                    body.close()

        try:
            resp = send_with_retry(do, self.retry, what=what, stop=self.stop, deadline=deadline,
                                   idempotent=idempotent)
        except httpx.HTTPError as exc:  # not a transport error (retried): decoding, redirects
            raise BadResponse(f"{what}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code < 300:
            try:
                data = resp.json() if resp.content else {}
            except ValueError:
                data = {}
            return data if isinstance(data, dict) else {}
        code, message = _error_of(resp)
        if code in ok_codes:
            return {"error_code": code, "message": message}
        raise _rejection(resp, what, code, message)

    # -- endpoints ---------------------------------------------------------
    def ping(self, deadline: float) -> None:
        """Cheap call used to fail fast when the server is not there."""
        self.request(
            "GET",
            f"{API}/experiments/get-by-name",
            params={"experiment_name": "Default"},
            deadline=deadline,
            ok_codes=("RESOURCE_DOES_NOT_EXIST",),
        )

    def _get_one(self, path: str, params: dict[str, str], key: str) -> dict[str, Any] | None:
        """GET one object (``key`` of the answer); None when the server has none."""
        data = self.request("GET", f"{API}/{path}", params=params,
                            ok_codes=("RESOURCE_DOES_NOT_EXIST",))
        found = data.get(key)
        return found if isinstance(found, dict) else None

    def get_experiment_by_name(self, name: str) -> dict[str, Any] | None:
        return self._get_one("experiments/get-by-name", {"experiment_name": name}, "experiment")

    def create_experiment(self, name: str) -> str | None:
        """New experiment id, or None when it exists already (another process, or an
        earlier attempt whose answer was lost). Not retried blindly: `AnswerLost`."""
        data = self.request(
            "POST",
            f"{API}/experiments/create",
            json={"name": name},
            ok_codes=("RESOURCE_ALREADY_EXISTS",),
            idempotent=False,
        )
        eid = data.get("experiment_id")
        return str(eid) if eid is not None else None

    def search_runs(
        self, experiment_id: str, filter_string: str, *, pages: int = 1,
        page_size: int = 1000, newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Active runs of the experiment matching ``filter_string``, oldest first (or
        newest first), up to ``pages`` pages of ``page_size``."""
        out: list[dict[str, Any]] = []
        token = ""
        for _ in range(pages):
            body: dict[str, Any] = {
                "experiment_ids": [experiment_id], "filter": filter_string,
                "max_results": page_size,
                "order_by": [f"attributes.start_time {'DESC' if newest_first else 'ASC'}"],
            }
            if token:
                body["page_token"] = token
            data = self.request("POST", f"{API}/runs/search", json=body)
            runs = data.get("runs", [])
            out += [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []
            token = str(data.get("next_page_token") or "")
            if not token:
                break
        return out

    def create_run(
        self, experiment_id: str, run_name: str, start_time_ms: int, tags: dict[str, str],
        user_id: str = "",
    ) -> dict[str, Any]:
        """The new run. Not idempotent: `AnswerLost` instead of a blind retry."""
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": start_time_ms,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if user_id:  # the UI's User column and `attributes.user_id` search
            body["user_id"] = user_id
        data = self.request("POST", f"{API}/runs/create", json=body, idempotent=False)
        run = data.get("run")
        if not isinstance(run, dict):
            raise ServerRejected(f"runs/create returned no run: {data!r:.200}")
        return run

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._get_one("runs/get", {"run_id": run_id}, "run")

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """One run tag (idempotent: setting it again to the same value is harmless)."""
        self.request("POST", f"{API}/runs/set-tag",
                     json={"run_id": run_id, "key": key, "value": value})

    def delete_run(self, run_id: str) -> None:
        """Move a run to MLflow's trash (idempotent: a deleted or missing run is no error)."""
        self.request("POST", f"{API}/runs/delete", json={"run_id": run_id},
                     ok_codes=("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"))

    def update_run(self, run_id: str, *, status: str, end_time_ms: int | None = None) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time_ms is not None:
            body["end_time"] = end_time_ms
        self.request("POST", f"{API}/runs/update", json=body)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[dict[str, Any]] = (),
        params: Sequence[dict[str, str]] = (),
        tags: Sequence[dict[str, str]] = (),
    ) -> None:
        self.request(
            "POST",
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": list(metrics),
                "params": list(params),
                "tags": list(tags),
            },
        )

    def put_artifact(
        self,
        artifact_root: str,
        path: str,
        data: bytes | None = None,
        opener: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        """Upload one artifact (idempotent: PUT to the same path overwrites). ``opener``
        gives the file to send, opened again for every attempt (closed here); an
        exception it raises ends the upload unchanged."""
        url_path = f"{ARTIFACTS_API}/{quote(artifact_root)}/{quote(path)}"

        def body() -> bytes | IO[bytes]:
            if opener is not None:
                return opener()  # closed by request()
            return data or b""

        self.request("PUT", url_path, content=body)

    def get_artifact_json(self, artifact_root: str, path: str) -> dict[str, Any] | None:
        """A JSON object stored as an artifact (a MANIFEST.json); None when the server
        has no such file, or it holds no JSON object."""
        try:
            data = self.request("GET", f"{ARTIFACTS_API}/{quote(artifact_root)}/{quote(path)}",
                                ok_codes=("RESOURCE_DOES_NOT_EXIST",))
        except ServerRejected as exc:
            if exc.status == 404:  # a proxy in front that answers without MLflow's body
                return None
            raise
        return None if not data or "error_code" in data else data

    def get_artifact(self, artifact_root: str, path: str,
                     write: Callable[[bytes], object]) -> None:
        """Stream one artifact's bytes to ``write``. Retried like any GET until the
        answer starts, not after; errors as `request` (404: `ServerRejected`)."""
        url_path = f"{ARTIFACTS_API}/{quote(artifact_root)}/{quote(path)}"
        what = f"GET {public_uri(self.uri)}{url_path}"

        def do() -> httpx.Response:
            return self.client.send(self.client.build_request("GET", self.uri + url_path),
                                    stream=True)

        try:
            resp = send_with_retry(do, self.retry, what=what, stop=self.stop)
            try:
                if resp.status_code >= 300:
                    resp.read()
                    raise _rejection(resp, what, *_error_of(resp))
                for chunk in resp.iter_bytes(1 << 20):
                    write(chunk)
            finally:
                resp.close()
        except httpx.TransportError as exc:  # the answer broke off mid-way
            raise ServerUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise BadResponse(f"{what}: {type(exc).__name__}: {exc}") from exc
