"""What the sinks of one server remember between passes of a run (`KnownRuns`)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any


class KnownRuns:
    """What the sinks of one server learnt about the runs they synced, for the next pass
    of the same run: its artifact root and params, the part of runs/get a resumed pass
    needs. ``runwal syncd`` gives a live run a pass per write, and that runs/get was half
    of each pass's requests. An entry holds only while the checkpoint's sink state is the
    one the last pass saved (no other process synced the run since; params only change
    with a config record, which changes that state); a run deleted on the server since
    is still found out, by the write (`RunGone`). Thread-safe; the newest ``size`` runs."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, tuple[str, str | None, dict[str, str]]] = OrderedDict()

    def get(self, server_run_id: str, state: dict[str, Any]) -> tuple[str | None,
                                                                      dict[str, str]] | None:
        """(artifact root, params) if the last pass left ``state`` in the checkpoint."""
        key = json.dumps(state, sort_keys=True, default=str)
        with self._lock:
            hit = self._runs.get(server_run_id)
            if hit is None or hit[0] != key:
                return None
            self._runs.move_to_end(server_run_id)
            return hit[1], dict(hit[2])

    def put(self, server_run_id: str, state: dict[str, Any], artifact_root: str | None,
            params: dict[str, str]) -> None:
        key = json.dumps(state, sort_keys=True, default=str)
        with self._lock:
            self._runs[server_run_id] = (key, artifact_root, dict(params))
            self._runs.move_to_end(server_run_id)
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)

