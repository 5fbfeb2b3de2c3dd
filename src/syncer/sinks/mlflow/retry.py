"""When to try a request again, and how long to wait before doing so.

Transient failures -- connect errors, timeouts, a dropped connection, HTTP 429
and 5xx -- are retried with exponential backoff and *full jitter* (sleep a
uniform random time in ``[0, min(cap, base * 2**attempt)]``), the AWS
recipe that keeps many syncers from hammering a recovering server in step.
A ``Retry-After`` header on 429/503 is honoured (bounded by ``cap``).

Retries are bounded by a deadline, not a count: a one-shot ``runwal sync``
must give up in a predictable time, while ``syncd`` may pass a long deadline
and a stop event so SIGTERM ends a backoff sleep at once.

Only idempotent requests are retried blindly. A request that creates something
(runs/create, experiments/create) is retried by itself only when it surely
never reached the server (the connection was never made, or a 429); any other
failure may have hidden an answer that was lost after the server applied it,
so it raises `AnswerLost` and `create_once` asks the server whether the thing
exists before trying again. A lost runs/create answer thus never makes a
second MLflow run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from syncer.errors import AnswerLost, ServerUnavailable

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Failures after which the request surely never reached the server's handler.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters; ``deadline`` bounds the total time spent on one request."""

    base: float = 0.2
    cap: float = 8.0
    deadline: float = 120.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter delay before retry number ``attempt`` (0-based)."""
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return (rng or random).uniform(0.0, ceiling)


def retry_after(resp: httpx.Response) -> float | None:
    """Seconds from a numeric Retry-After header; None when absent or a date."""
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def is_transient(resp: httpx.Response) -> bool:
    return resp.status_code in TRANSIENT_STATUS


def send_with_retry(
    do: Callable[[], httpx.Response],
    policy: RetryPolicy,
    *,
    what: str,
    stop: threading.Event | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], object] | None = None,
    idempotent: bool = True,
) -> httpx.Response:
    """Call ``do`` until it returns a non-transient response or the deadline passes.

    Returns the first response that is not transient (2xx or a permanent 4xx:
    the caller decides what a 4xx means). Raises ServerUnavailable naming
    ``what`` and the last failure when the deadline passes or ``stop`` is set.
    ``idempotent=False``: raises `AnswerLost` at the first failure that may have
    reached the server instead of repeating the request (see the module doc).
    """
    limit = policy.deadline if deadline is None else deadline
    end = time.monotonic() + limit
    attempt = 0
    while True:
        wait: float | None = None
        try:
            resp = do()
        except httpx.TransportError as exc:  # connect, timeout, reset, protocol
            last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if not idempotent and not isinstance(exc, NEVER_SENT):
                raise AnswerLost(f"{what}: {last} (the request may have been applied)") from exc
        else:
            if not is_transient(resp):
                return resp
            last = f"HTTP {resp.status_code}"
            wait = retry_after(resp)
            resp.close()
            if not idempotent and resp.status_code != 429:  # a gateway may have passed it on
                raise AnswerLost(f"{what}: {last} (the request may have been applied)")
        delay = policy.backoff(attempt) if wait is None else min(wait, policy.cap)
        attempt += 1
        pause(delay, end, stop, sleep, what=what, last=last, attempt=attempt)


def pause(
    delay: float,
    end: float,
    stop: threading.Event | None,
    sleep: Callable[[float], object] | None,
    *,
    what: str,
    last: str,
    attempt: int,
) -> None:
    """Sleep ``delay`` before another attempt; ServerUnavailable when that would pass
    ``end`` (a monotonic time) or ``stop`` is set."""
    if time.monotonic() + delay > end or (stop is not None and stop.is_set()):
        raise ServerUnavailable(f"{what}: {last} (gave up after {attempt} attempt(s))")
    if sleep is not None:
        sleep(delay)
    elif stop is not None:
        if stop.wait(delay):
            raise ServerUnavailable(f"{what}: stopped while retrying after {last}")
    else:
        time.sleep(delay)


def create_once(
    create: Callable[[], T],
    find: Callable[[], T | None],
    policy: RetryPolicy,
    *,
    what: str,
    stop: threading.Event | None = None,
) -> T:
    """``create()`` exactly once on the server: after an attempt whose answer was lost
    (`AnswerLost`), ``find()`` (idempotent, retried as usual) says whether it was
    applied before another attempt is made. ServerUnavailable past the deadline."""
    end = time.monotonic() + policy.deadline
    attempt = 0
    while True:
        try:
            return create()
        except AnswerLost as exc:
            last = exc.message
        found = find()
        if found is not None:
            return found
        attempt += 1
        pause(policy.backoff(attempt - 1), end, stop, None, what=what, last=last,
              attempt=attempt)
