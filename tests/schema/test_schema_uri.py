"""schema.uri: the one place both halves resolve, check and print the server URI."""

from __future__ import annotations

import pytest

from schema import uri
from schema.errors import BadTrackingUri


def test_resolve_order_and_blank_values() -> None:
    env = {"RUNWAL_SERVER": "http://a:1", "MLFLOW_TRACKING_URI": "http://b:2"}
    assert uri.resolve("http://x:3", env) == "http://x:3"
    assert uri.resolve(None, env) == "http://a:1"
    assert uri.resolve("  ", {"RUNWAL_SERVER": " ", "MLFLOW_TRACKING_URI": "http://b:2"}) == (
        "http://b:2")
    assert uri.resolve(None, {}) is None


@pytest.mark.parametrize("raw, checked", [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("HTTP://host:5000/", "http://host:5000/"),
    ("Https://u:p@host", "https://u:p@host"),
    ("http://[::1]:5000", "http://[::1]:5000"),
])
def test_check_accepts_http_in_any_case(raw: str, checked: str) -> None:
    assert uri.check(raw) == checked


@pytest.mark.parametrize("raw", [
    "htp://u:SECRET@host", "http://u:SECRET@127.0.0.1:99999", "http://u:SECRET@h:5000:99",
    "http://[::1", "file:///tmp/mlruns", "http://", "SECRET",
])
def test_check_refuses_with_one_line_that_hides_the_password(raw: str) -> None:
    with pytest.raises(BadTrackingUri) as info:
        uri.check(raw)
    text = str(info.value)
    assert "\n" not in text
    assert "SECRET" not in text or raw == "SECRET"
    assert "hint:" in text


@pytest.mark.parametrize("raw, shown", [
    ("http://u:SECRET@host:5000/", "http://host:5000"),
    ("http://host:5000/", "http://host:5000"),
    ("http://u:SECRET@[::1]:5000", "http://[::1]:5000"),
    ("http://u:SECRET@h:99999", "http://***@h:99999"),
])
def test_public_uri_never_shows_credentials(raw: str, shown: str) -> None:
    assert uri.public_uri(raw) == shown
