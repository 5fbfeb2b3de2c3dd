"""Histogram, and arrays logged directly (wandb's rule: more than 32 elements)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from logwriter.media import Histogram
from logwriter_util import history


def test_sequence_is_binned_on_the_writer(log_run: Any) -> None:
    values = np.random.default_rng(1).normal(size=1000)
    logged = log_run({"h": Histogram(values.tolist(), num_bins=10)})
    item = logged.item("h")
    counts, bins = np.histogram(values, bins=10)
    assert item == {"bins": bins.tolist(), "counts": counts.tolist()}
    assert all(type(c) is int for c in item["counts"])
    assert logged.of("h")[0]["kind"] == "histogram"


def test_np_histogram_and_wandb_attributes() -> None:
    hist = Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 3.0]))
    assert hist.histogram == [1, 2, 3] and hist.bins == [0.0, 1.0, 2.0, 3.0]
    counts, bins = np.histogram(np.arange(10.0), bins=5)
    hist = Histogram(np_histogram=(counts, bins))
    assert hist.histogram == counts.tolist() and hist.bins == bins.tolist()
    assert Histogram(np.arange(100.0)).bins == np.histogram(np.arange(100.0), 64)[1].tolist()


def test_non_finite_values_are_counted_apart(log_run: Any) -> None:
    logged = log_run({"h": Histogram([1.0, 2.0, np.nan, np.inf], num_bins=2)})
    item = logged.item("h")
    assert item["counts"] == [1, 1] and item["nonfinite"] == 2


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Histogram(), "give a sequence"),
    (lambda: Histogram([1.0], num_bins=0), "num_bins"),
    (lambda: Histogram([1.0], num_bins=513), "num_bins"),
    (lambda: Histogram(["a", "b"]), "numbers"),
    (lambda: Histogram(np_histogram=([1, 2], [0.0, 1.0])), "expected 3 edges"),
    (lambda: Histogram(np_histogram=(["x"], [0.0, 1.0])), "np_histogram"),
])
def test_bad_histograms(make: Any, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        make()


@pytest.mark.parametrize("make", [np.arange, lambda n: torch.arange(n, dtype=torch.float32)])
def test_arrays_over_32_elements_become_histograms(log_run: Any, make: Any) -> None:
    logged = log_run({"w32": make(32), "w33": make(33), "one": make(1), "none": make(0),
                      "loss": 0.5})
    row = history(logged.records)[0]
    assert row["w32"] == list(range(32)) and row["one"] == 0 and row["none"] == []
    assert "w33" not in row and row["loss"] == 0.5
    item = logged.item("w33")
    assert len(item["counts"]) == 32 and sum(item["counts"]) == 33
    assert (item["bins"][0], item["bins"][-1]) == (0.0, 32.0)
    assert [b["key"] for b in logged.media] == ["w33"]


def test_a_matrix_counts_its_elements(log_run: Any) -> None:
    logged = log_run({"m": np.ones((4, 8)), "big": np.ones((3, 11))})
    assert history(logged.records)[0]["m"] == np.ones((4, 8)).tolist()
    assert sum(logged.item("big")["counts"]) == 33


def test_bfloat16_tensors_are_read_as_floats(log_run: Any) -> None:
    logged = log_run({"h": Histogram(torch.ones(40, dtype=torch.bfloat16), num_bins=4),
                      "auto": torch.zeros(40, dtype=torch.bfloat16)})
    assert sum(logged.item("h")["counts"]) == 40 and sum(logged.item("auto")["counts"]) == 40
