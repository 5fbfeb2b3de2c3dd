"""What the SDK and its follower process (``runwal follow``) say to each other.

The SDK starts ``python -m syncer.cli follow RUN_DIR ... --log-in-run`` for
the online and hybrid modes and never imports the syncer, so the two halves
agree on these facts through this module alone (a contract test drives a real
follower against the SDK's parser):

* The follower's stdout carries exactly one line, then closes:
  ``ready <checkpoint>`` once the server answered (the checkpoint file,
  relative to the run directory), or ``error: <message>``.
* Everything else the follower says goes to ``<run>/sync/follow.log``.
* Progress is read from that checkpoint file as JSON: `CKPT_SEQ` is the
  highest seq the server acknowledged, `CKPT_FINISHED` is true once the EXIT
  record was acknowledged.
* Whether the server answers: ``<run>/sync/follow.state`` (`STATE_NAME`), a
  JSON object ``{"pid": <follower pid>, "server": "up"|"down", "why": str,
  "at": unix time}`` that the follower replaces (`write_server_state`) each
  time its view changes: ``down`` when a contact or a pass failed because the
  server cannot be reached and it is going to retry, ``up`` when the server
  answered again. A hybrid run's finish() returns at once, instead of
  waiting its whole ``sync_timeout``, while the follower it started says
  ``down`` (`read_server_down`); the follower keeps retrying by itself.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from schema.atomic import make_dirs, write_json_atomic
from schema.layout import SYNC_DIR

READY = "ready"  # the kind parse_line returns, and the ready line's first word
ERROR = "error"  # the kind parse_line returns; the line starts with "error:"
LOG_NAME = "follow.log"
CKPT_SEQ = "seq"
CKPT_FINISHED = "finished"
STATE_NAME = "follow.state"
SERVER_UP = "up"
SERVER_DOWN = "down"


def ready_line(checkpoint: str) -> str:
    return f"{READY} {checkpoint}"


def error_line(message: str) -> str:
    return f"{ERROR}: {' '.join(message.split())}"


def parse_line(line: str) -> tuple[str, str] | None:
    """(READY, checkpoint) or (ERROR, message) for a protocol line, else None
    (so ``readyX`` or a stray ``errors`` line is not taken for an answer)."""
    word, sep, rest = line.rstrip().partition(" ")
    if word == READY:
        return READY, rest.strip()
    if word.startswith(ERROR + ":"):
        return ERROR, (word[len(ERROR) + 1:] + sep + rest).strip()
    return None


def log_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / SYNC_DIR / LOG_NAME


def read_progress(checkpoint_file: str | Path) -> tuple[int, bool]:
    """(highest acknowledged seq, EXIT acknowledged); (-1, False) when unreadable."""
    try:
        data = json.loads(Path(checkpoint_file).read_text())
        return int(data.get(CKPT_SEQ, -1)), bool(data.get(CKPT_FINISHED, False))
    except (OSError, ValueError, TypeError, AttributeError):
        return -1, False


def state_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / SYNC_DIR / STATE_NAME


def write_server_state(run_dir: str | Path, *, up: bool, why: str = "",
                       pid: int | None = None) -> None:
    """The follower: say whether the server answers (atomic replace; never raises).
    ``pid`` is the follower's own (the default); tests pass another."""
    body = {"pid": os.getpid() if pid is None else pid, "server": SERVER_UP if up else SERVER_DOWN,
            "why": " ".join(why.split()), "at": time.time()}
    try:
        make_dirs(state_path(run_dir).parent, parents=False)
        write_json_atomic(state_path(run_dir), body)
    except OSError:
        pass


def read_server_down(run_dir: str | Path, pid: int) -> str | None:
    """The SDK: why follower ``pid`` last said the server is down; None when it said
    ``up``, said nothing, or the file is another (older) follower's."""
    try:
        data = json.loads(state_path(run_dir).read_text())
        if data.get("pid") != pid or data.get("server") != SERVER_DOWN:
            return None
        return str(data.get("why") or "the server does not answer")
    except (OSError, ValueError, TypeError, AttributeError):
        return None
