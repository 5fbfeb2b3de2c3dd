"""The MLflow run of a runwal run: found by its ``runwal.run_id`` tag, created once.

A runwal run is one MLflow run for good, whatever the network does. The tag
``runwal.run_id`` (set in the same runs/create request, so a run never exists
without it) is its identity on the server:

* before creating, the run is looked up by that tag (a lost checkpoint, or a
  run dir synced from a second copy, finds the run it already has);
* runs/create and experiments/create are not idempotent, so they are never
  retried blindly: when an attempt's answer is lost (a reset, a timeout, a
  5xx from a gateway that may have passed it on) the thing is looked up
  again before another attempt (`syncer.sinks.mlflow.retry.create_once`);
* the engine writes the server run id into the checkpoint as soon as the
  sink returns from `open_run`, and later passes use that id.

Two syncers that share no lock (the run dir read through two mounts of a
network filesystem, where flock is local to each client or refused) can both
find nothing and both create. No MLflow request creates a run only if none
exists, so runwal settles it right after creating, before anything is sent,
by one rule every syncer applies alike: of the active runs tagged with the id,
the oldest is *the* run (`_order`: start time, then the ``runwal.created``
stamp, then run id). A creator stamps its run (runs/set-tag, the creator's
clock *after* the create returned), then looks (`settle`); when its run is not
the oldest it moves it to MLflow's trash and uses the oldest. A run not yet
stamped counts as the youngest: its creator has yet to look. Why one look is
enough, with searches that see every committed write (MLflow's SQL stores):
if A's look did not see B's run, B created after A's look, so B's stamp is
later than A's, which A set before looking, and B's look sees A's run stamped
and older; if one sees the other unstamped, that other stamps later than the
first's stamp and steps aside itself. Only a creator deletes, and only its own
run, so the oldest is never deleted. It assumes the creators' clocks agree to
better than the time between two such writes (milliseconds under NTP). A
checkpoint that names a run in the trash while a twin is active moves to the
twin (`RunMoved`: the pass starts over and sends everything there, which is
harmless: every write is idempotent, sink.py).

What a request costs: a first sync of a small finished run is the lookup
(runs/search), runs/create, the stamp (runs/set-tag) and the look for another
syncer's copy (runs/search), one log-batch (the sink merges params, tags and
metrics) and the final runs/update. The experiment's id is looked up once per
process and name (`EXPERIMENT_TTL`), not once per run. The lookup before the
create stays: it is what makes a lost checkpoint or a second copy of the run
dir find the run it has instead of making another.

runs/create also carries what MLflow's own client sets there, so the UI shows
runwal runs as it shows its own: ``user_id`` (the User column and
``attributes.user_id`` search) from the run record's user, and the tags
``mlflow.user`` and ``mlflow.source.type`` ("LOCAL", or "JOB" for a run whose
record names a scheduler job).
"""

from __future__ import annotations

import time
from typing import Any

from syncer.errors import ServerRejected
from syncer.sinks.mlflow.rest import MlflowRest
from syncer.sinks.mlflow.retry import create_once

RUN_ID_TAG = "runwal.run_id"
SCAN_PAGES = 20  # pages of 1000 runs read when a run id cannot be put in a filter
CREATED_TAG = "runwal.created"  # ns since the epoch, the creator's clock after its create
UNSTAMPED = 1 << 127  # a run whose creator has not stamped it yet: the youngest
EXPERIMENT_TTL = 60.0  # seconds an experiment id found is used without asking again
JOB_KEYS = ("slurm_job_id", "job_id")  # run record keys that mark a scheduler job


def experiment_id(rest: MlflowRest, name: str) -> str:
    """The id of experiment ``name``, created if missing (once, even when answers are lost);
    remembered by ``rest`` for `EXPERIMENT_TTL` (one lookup for a directory of runs). The
    lookup holds ``rest``'s lock: parallel workers syncing the first runs of a new project
    wait for one lookup instead of each finding it missing and racing to create it."""
    with rest.experiments_lock:
        known = rest.experiments.get(name)
        if known is not None and time.monotonic() - known[1] < EXPERIMENT_TTL:
            return known[0]
        eid = _experiment_id(rest, name)
        rest.experiments[name] = (eid, time.monotonic())
        return eid


def _experiment_id(rest: MlflowRest, name: str) -> str:

    def find() -> dict[str, Any] | None:
        return rest.get_experiment_by_name(name)

    def create() -> dict[str, Any] | None:
        eid = rest.create_experiment(name)
        return {"experiment_id": eid} if eid is not None else find()  # None: it exists

    exp = find()
    if exp is None:
        exp = create_once(create, find, rest.retry, what=f"experiments/create {name!r}",
                          stop=rest.stop)
    if exp is None or "experiment_id" not in exp:
        raise ServerRejected(f"experiment {name!r} could not be created or found")
    if exp.get("lifecycle_stage") == "deleted":
        raise ServerRejected(
            f"experiment {name!r} is deleted on the server",
            hint="restore it in the MLflow UI or pick another project name",
        )
    return str(exp["experiment_id"])


def _filter_for(run_id: str) -> str | None:
    """A search filter matching tag ``runwal.run_id`` = ``run_id``, or None when the id
    cannot be quoted (MLflow's filter strings have no escapes: a value must not hold
    its own quote character, and a backslash may be read as one)."""
    if "\\" in run_id:
        return None
    for quote in ("'", '"'):
        if quote not in run_id:
            return f"tags.`{RUN_ID_TAG}` = {quote}{run_id}{quote}"
    return None


def _tag(run: dict[str, Any], key: str) -> str | None:
    for t in run.get("data", {}).get("tags", []) or []:
        if isinstance(t, dict) and t.get("key") == key:
            return str(t.get("value", ""))
    return None


def _order(run: dict[str, Any]) -> tuple[int, int, str]:
    """Which of two runs of one id is kept: start time (from the WAL, the same for both
    copies), the creator's stamp (a run not stamped yet, or made by an older runwal,
    counts as the youngest), run id."""
    info = run.get("info", {})
    try:
        start = int(info.get("start_time") or 0)
    except (TypeError, ValueError):
        start = 0
    stamp = _tag(run, CREATED_TAG)
    try:
        created = UNSTAMPED if stamp is None else int(stamp)
    except ValueError:
        created = UNSTAMPED
    return start, created, str(info.get("run_id") or info.get("run_uuid") or "")


def twins(rest: MlflowRest, exp_id: str, run_id: str) -> list[dict[str, Any]]:
    """The active server runs tagged ``runwal.run_id`` = ``run_id``, the one kept first."""
    flt = _filter_for(run_id)
    if flt is not None:
        found = rest.search_runs(exp_id, flt)
    else:  # an id no filter can hold: compare the tag of every run of the experiment
        found = rest.search_runs(exp_id, "", pages=SCAN_PAGES)
    return sorted((r for r in found if _tag(r, RUN_ID_TAG) == run_id), key=_order)


def find_run(rest: MlflowRest, exp_id: str, run_id: str) -> dict[str, Any] | None:
    """The active server run tagged ``runwal.run_id`` = ``run_id`` (the oldest if several)."""
    found = twins(rest, exp_id, run_id)
    return found[0] if found else None


def settle(rest: MlflowRest, exp_id: str, run_id: str, mine: str) -> dict[str, Any] | None:
    """None when server run ``mine`` is the one kept for ``run_id``; else that run,
    after moving ``mine`` to the trash (whoever sees two deletes the same one)."""
    found = twins(rest, exp_id, run_id)
    if not found or server_run_id(found[0]) == mine:
        return None
    rest.delete_run(mine)
    return found[0]


def creation(run_body: Any) -> tuple[str, dict[str, str]]:
    """``user_id`` and the tags runs/create carries besides the identity, from the
    run record's body (None or odd bodies: no user, source type LOCAL)."""
    body = run_body if isinstance(run_body, dict) else {}
    user = body.get("user")
    user_id = user if isinstance(user, str) else ""
    job = any(body.get(k) not in (None, "") for k in JOB_KEYS)
    tags = {"mlflow.source.type": "JOB" if job else "LOCAL"}
    if user_id:
        tags["mlflow.user"] = user_id
    return user_id, tags


def find_or_create_run(
    rest: MlflowRest, exp_id: str, run_id: str, name: str, start_ms: int,
    run_body: Any = None,
) -> dict[str, Any]:
    """The server run of ``run_id``: looked up first, created at most once by this syncer
    (with what `creation` takes from ``run_body``, the run record's body), stamped, and
    settled against another syncer's copy (`settle`)."""
    run = find_run(rest, exp_id, run_id)
    if run is not None:
        return run
    user_id, tags = creation(run_body)

    def create() -> dict[str, Any]:
        return rest.create_run(exp_id, name, start_ms, {**tags, RUN_ID_TAG: run_id}, user_id)

    run = create_once(create, lambda: find_run(rest, exp_id, run_id), rest.retry,
                      what=f"runs/create for {run_id!r}", stop=rest.stop)
    mine = server_run_id(run)
    rest.set_tag(mine, CREATED_TAG, str(time.time_ns()))  # after the create: see above
    kept = settle(rest, exp_id, run_id, mine)
    return run if kept is None else kept


def server_run_id(run: dict[str, Any]) -> str:
    """The run's id; ServerRejected for an answer that has none."""
    info = run.get("info", {})
    rid = info.get("run_id") or info.get("run_uuid") if isinstance(info, dict) else None
    if not rid:
        raise ServerRejected(f"the server's run has no id: {run!r:.200}")
    return str(rid)
