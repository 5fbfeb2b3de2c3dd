"""RunwalCallback under a real Keras 3 fit() (torch backend, CPU): what lands in the run dir."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported; no tensorflow or jax here

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("keras")
import keras

import logwriter
from logwriter.integrations.keras import RunwalCallback
from logwriter_util import QUIET, history, merged, of_kind, read_clean

# Keras 3's torch-backend Variable.__array__ takes no copy= under numpy 2 (reading the
# optimizer's learning rate in get_config); a framework warning, nothing of runwal's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def tiny(lr: float | None = None) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(lr) if lr else "adam", loss="mse")
    return model


def data(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, 4)).astype("float32"),
            rng.standard_normal((n, 1)).astype("float32"))


def run_dir_of(root: Path) -> Path:
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    return run_dir



def test_fit_records_config_epoch_metrics_model_and_exit(tmp_path: Path) -> None:
    model = tiny()
    x, y = data()
    callback = RunwalCallback(project="tiny", dir=tmp_path / "runs", mode="offline",
                              save_model=True, **QUIET)
    model.fit(x, y, epochs=2, batch_size=4, validation_split=0.2, verbose=0,
              callbacks=[callback])
    assert callback.run is not None and logwriter.run is None
    run_dir = run_dir_of(tmp_path / "runs")
    records = read_clean(run_dir)
    config = merged(records, "config")
    assert config["learning_rate"] == pytest.approx(0.001)
    assert config["optimizer"]["name"] == "adam"
    assert config["num_parameters"] == 5 == model.count_params()
    rows = history(records)
    assert sorted(rows) == [0, 1]
    for epoch in (0, 1):
        row = rows[epoch]
        assert set(row) == {"epoch/epoch", "epoch/loss", "epoch/val_loss",
                            "epoch/learning_rate"}
        assert row["epoch/epoch"] == epoch
        assert isinstance(row["epoch/loss"], float) and isinstance(row["epoch/val_loss"], float)
    # the numbers Keras' own History recorded
    assert [rows[e]["epoch/loss"] for e in (0, 1)] == pytest.approx(model.history.history["loss"])
    files = of_kind(records, "file")
    assert [f["path"] for f in files] == ["model.keras"]
    saved = run_dir / "files" / "model.keras"
    assert files[0]["size"] == saved.stat().st_size > 0
    restored = keras.saving.load_model(saved)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    exits = of_kind(records, "exit")
    assert [(e["status"], e["code"]) for e in exits] == [("finished", 0)]


def test_batch_logging_every_n_batches(tmp_path: Path) -> None:
    model = tiny(lr=0.01)
    x, y = data(16)
    callback = RunwalCallback(dir=tmp_path / "runs", mode="offline", log_freq=2, **QUIET)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[callback])
    records = read_clean(run_dir_of(tmp_path / "runs"))
    assert merged(records, "config")["learning_rate"] == pytest.approx(0.01)
    rows = history(records)
    # 4 batches an epoch, 8 in all: every 2nd (global index 1, 3, 5, 7); each epoch's
    # row joins its last batch's step.
    assert sorted(rows) == [1, 3, 5, 7]
    assert [rows[s]["batch/batch_step"] for s in sorted(rows)] == [1, 3, 5, 7]
    assert all(isinstance(rows[s]["batch/loss"], float) for s in rows)
    assert [s for s in sorted(rows) if "epoch/loss" in rows[s]] == [3, 7]
    assert rows[7]["epoch/epoch"] == 1
    assert of_kind(records, "file") == []  # save_model=False


def test_current_run_is_used_and_not_finished(tmp_path: Path) -> None:
    run = logwriter.init(project="mine", dir=tmp_path / "runs", mode="offline", **QUIET)
    try:
        run.log({"setup": 1.0}, step=0)
        x, y = data()
        callback = RunwalCallback(dir=tmp_path / "other")
        tiny().fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[callback])
        assert callback.run is run and not run.finished
        run.log({"after": 2.0}, step=2)
    finally:
        run.finish()
    assert not (tmp_path / "other").exists()
    rows = history(read_clean(run.run_dir))
    # epoch 0 merges into the script's step 0; epoch 1 at step 1; the script goes on after.
    assert rows[0]["setup"] == 1.0 and rows[0]["epoch/epoch"] == 0
    assert rows[1]["epoch/epoch"] == 1 and rows[2] == {"after": 2.0}


def test_second_fit_reopens_the_same_run(tmp_path: Path) -> None:
    model = tiny()
    x, y = data()
    callback = RunwalCallback(dir=tmp_path / "runs", mode="offline", **QUIET)
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[callback])
    model.fit(x, y, epochs=1, batch_size=10, verbose=0, callbacks=[callback])
    records = read_clean(run_dir_of(tmp_path / "runs"))
    rows = history(records)
    # The second fit's epoch 0 is behind the run: it goes at the next step, saying its epoch.
    assert [rows[s]["epoch/epoch"] for s in sorted(rows)] == [0, 1, 0]
    assert [e["status"] for e in of_kind(records, "exit")] == ["finished", "finished"]


def test_bad_log_freq() -> None:
    with pytest.raises(ValueError, match="log_freq"):
        RunwalCallback(log_freq="step")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="log_freq"):
        RunwalCallback(log_freq=0)


def test_logwriter_imports_no_keras() -> None:
    import subprocess
    import sys

    code = ("import sys, logwriter, logwriter.integrations; "
            "print(sorted({'keras', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
