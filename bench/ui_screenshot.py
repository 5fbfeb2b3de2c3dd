"""Screenshots of the MLflow UI for a runwal run next to the same data logged with
MLflow's own client (issue 9's closing note). Run by hand, never in CI:

    apt-get install -y chromium          # any Chromium; or CHROMIUM=/path/to/chrome
    .venv/bin/python bench/ui_screenshot.py [--out bench/out]

It starts a throwaway MLflow server, writes a run dir with the runwal SDK
(images per step, a gallery, a table with image cells, histograms), syncs it
with runwal, logs the same values into a second run with ``MlflowClient``
(``log_image(key=, step=)``, ``log_table``, the histogram's four statistics as
metrics), and has headless Chromium draw each run's model-metrics page (the
image panel), its artifact view of the table, and the experiment's chart view
that shows both runs side by side. PNGs land in ``--out`` (gitignored).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

STEPS = 5
BUDGET_MS = int(os.environ.get("RUNWAL_SHOT_BUDGET_MS", "60000"))  # virtual time for the page


def frame(step: int, size: int = 96) -> Any:
    """A picture that changes with the step: a bar sweeping over a gradient."""
    import numpy as np

    y, x = np.mgrid[0:size, 0:size]
    img = np.stack([x * 255 // size, y * 255 // size, np.full_like(x, 128)], -1)
    col = (step * size // STEPS) % size
    img[:, col : col + size // 10] = (255, 255, 255)
    return img.astype(np.uint8)


def runwal_run(runs: Path, uri: str) -> str:
    import numpy as np

    import logwriter

    run = logwriter.init(project="ui-shot", name="runwal", dir=runs, stats_interval=0,
                         capture_console=False)
    for step in range(STEPS):
        logwriter.log({
            "samples": logwriter.Image(frame(step), caption=f"step {step}"),
            "gallery": [logwriter.Image(frame(step + k)) for k in range(3)],
            "weights": logwriter.Histogram(np.random.default_rng(step).normal(step, 1, 500)),
            "loss": 1.0 / (step + 1),
        }, step=step)
    logwriter.log({"preds": logwriter.Table(
        columns=["id", "label", "image"],
        data=[[i, f"class {i}", logwriter.Image(frame(i))] for i in range(3)])})
    logwriter.finish()
    from syncer.engine.replay import sync_run
    from syncer.sinks.mlflow.rest import MlflowRest, build_client
    from syncer.sinks.mlflow.sink import MlflowSink

    with build_client() as http:
        sink = MlflowSink(MlflowRest(uri, http))
        try:
            res = sync_run(runs / run.id, sink)
        finally:
            sink.close()
    print(f"runwal sync: {res.status}, server run {res.server_run_id}")
    return res.server_run_id


def table_path(uri: str, run_id: str) -> str:
    """Where runwal put the table (``tables/preds/step_<N>.json``)."""
    import httpx

    got = httpx.get(f"{uri}/api/2.0/mlflow/artifacts/list",
                    params={"run_id": run_id, "path": "tables/preds"}).json()
    return str(got["files"][0]["path"])


def mlflow_run(uri: str, experiment_id: str, table_file: str) -> str:
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from PIL import Image

    c = MlflowClient(tracking_uri=uri)
    rid = c.create_run(experiment_id, run_name="mlflow client").info.run_id
    for step in range(STEPS):
        c.log_image(rid, frame(step), key="samples", step=step, synchronous=True)
        for k in range(3):
            c.log_image(rid, frame(step + k), key="gallery", step=step, synchronous=True)
        values = np.random.default_rng(step).normal(step, 1, 500)
        c.log_metric(rid, "loss", 1.0 / (step + 1), step=step)
        for name, v in (("min", values.min()), ("max", values.max()), ("mean", values.mean()),
                        ("std", values.std())):
            c.log_metric(rid, f"weights/{name}", float(v), step=step)
    table = pd.DataFrame({"id": range(3), "label": [f"class {i}" for i in range(3)],
                          "image": [Image.fromarray(frame(i)) for i in range(3)]})
    c.log_table(rid, data=table, artifact_file=table_file)
    c.set_terminated(rid)
    return rid


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return str(shutil.which(name))
    sys.exit("no Chromium found: apt-get install -y chromium, or set CHROMIUM")


def shoot(browser: str, url: str, out: Path, size: str = "1600,1400") -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={size}", f"--virtual-time-budget={BUDGET_MS}",
                        "--run-all-compositor-stages-before-draw",
                        f"--screenshot={out}", url],
                       check=True, capture_output=True, timeout=120)
    print(f"wrote {out}  ({url})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    from syncer.sinks.mlflow.loopback_server import LocalMlflowServer

    with tempfile.TemporaryDirectory() as tmp, LocalMlflowServer(Path(tmp) / "srv") as srv:
        ours = runwal_run(Path(tmp) / "runs", srv.uri)
        from mlflow import MlflowClient

        eid = MlflowClient(tracking_uri=srv.uri).get_run(ours).info.experiment_id
        table = table_path(srv.uri, ours)
        theirs = mlflow_run(srv.uri, eid, table)
        base = f"{srv.uri}/#/experiments/{eid}"
        for label, rid in (("runwal", ours), ("mlflow", theirs)):
            shoot(browser, f"{base}/runs/{rid}/model-metrics", args.out / f"{label}_metrics.png")
            shoot(browser, f"{base}/runs/{rid}/artifacts/{table}",
                  args.out / f"{label}_table.png")
        shoot(browser, f"{base}/runs?compareRunsMode=CHART", args.out / "both_chart_view.png",
              size="1800,1600")


if __name__ == "__main__":
    main()
