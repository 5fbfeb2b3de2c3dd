"""The tracking server's URI: where it comes from, what is accepted, how it is printed.

Both halves need the same answers: the SDK (online/hybrid modes start a
follower for it) and the syncer (``--to``). One source, so they cannot drift:

* `resolve`: the explicit value (``init(server=)`` / ``--to``), else
  ``RUNWAL_SERVER``, else ``MLFLOW_TRACKING_URI``; blank values count as unset.
* `check`: an ``http://`` or ``https://`` URI (scheme in any case, as RFC 3986
  allows) with a host and a valid port. The error never repeats a password.
* `public_uri`: the URI without ``user:password@``, safe to print or store.

It lives in schema because schema is the one package both halves import; it
does no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from schema.errors import BadTrackingUri

ENV_VARS = ("RUNWAL_SERVER", "MLFLOW_TRACKING_URI")
SCHEMES = ("http", "https")


def resolve(explicit: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The explicit URI, else the first of `ENV_VARS` set; None when none is."""
    env = os.environ if env is None else env
    for candidate in (explicit, *(env.get(name) for name in ENV_VARS)):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def public_uri(uri: str) -> str:
    """``uri`` without user:password (and without a trailing slash), for messages."""
    try:
        parts = urlsplit(uri)
        if parts.username is None and parts.password is None:
            return uri.rstrip("/")
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
    except ValueError:  # unparsable: print the scheme and host part up to any '@'
        return _redact(uri)
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")


def _redact(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "", uri
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}".rstrip("/")


def check(uri: str) -> str:
    """``uri`` with its scheme lower-cased, or BadTrackingUri saying what is wrong
    (in words that never include the password)."""
    shown = _redact(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise BadTrackingUri(f"malformed tracking URI {shown!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        got = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise BadTrackingUri(f"unsupported tracking URI {shown!r} ({got}; need http:// or https://)")
    if not parts.hostname:
        raise BadTrackingUri(f"tracking URI {shown!r} names no host")
    del port
    return scheme + uri[len(parts.scheme):]
