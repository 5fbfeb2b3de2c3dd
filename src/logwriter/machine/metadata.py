"""Run metadata: who, where and from which code a run was started.

:func:`run_record` builds the body of the ``run`` record: the identifying
settings, host, user, pid, Python, argv, cwd, OS, start time, and ``git``
(commit, branch, remote, dirty; read by gitinfo.py) when the working
directory is inside a git work tree. The syncer maps ``git`` onto MLflow's
``mlflow.source.git.*`` tags. The Run evaluates it on the writer thread,
so neither this module nor git slows down ``init()``.

Never raises: any failure just means fewer keys. Every value is a plain
msgpack type (str, int, float, bool, None, list, dict), and every str valid
UTF-8: argv, cwd or a branch name with undecodable bytes is recorded with
them escaped (text.clean_text) rather than costing the whole record.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from logwriter.machine.gitinfo import git_info
from logwriter.session.settings import RECORDED_SETTINGS
from logwriter.values.text import clean_text_deep


def os_name() -> str:
    """Like ``platform.platform()`` ("Linux-6.8.0-x86_64-with-glibc2.36") without its
    cost: that unpacks ``platform.uname()``, whose processor field runs ``uname -p``
    in a subprocess on Linux -- a child process at every init for nothing."""
    u = os.uname()
    name = f"{u.sysname}-{u.release}-{u.machine}"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        libc = None
    return f"{name}-with-{libc.replace(' ', '')}" if libc else name


def run_record(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The body of the ``run`` record: every recorded setting (None included, so the
    record always names them all), then :func:`collect`'s facts."""
    body: dict[str, Any] = {key: _plain(settings.get(key)) for key in RECORDED_SETTINGS}
    for key, value in collect(settings).items():
        body.setdefault(key, value)
    return clean_text_deep(body)


def collect(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``run`` record body for this process, plus the identifying ``settings``."""
    out: dict[str, Any] = {}
    probes: list[tuple[str, Callable[[], Any]]] = [
        ("host", socket.gethostname),
        ("user", getpass.getuser),
        ("pid", os.getpid),
        ("python", platform.python_version),
        ("executable", lambda: sys.executable or None),
        ("argv", lambda: [str(a) for a in sys.argv]),
        ("cwd", os.getcwd),
        ("os", os_name),
        ("cpu_count", os.cpu_count),
        ("started", time.time),
    ]
    for key, probe in probes:
        try:
            value = probe()
        except Exception:
            continue
        if value is not None:
            out[key] = value
    try:
        for key in RECORDED_SETTINGS:
            value = settings.get(key)
            if value is not None:
                out[key] = _plain(value)
    except Exception:
        pass
    try:
        git = git_info(out.get("cwd") or os.getcwd())
    except Exception:
        git = None
    if git is not None:
        out["git"] = git
    return out


def _plain(value: Any) -> Any:
    """Coerce a settings value to msgpack-able types (tuples of tags become lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)
