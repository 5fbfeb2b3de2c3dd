"""plot.confusion_matrix / roc_curve / pr_curve: wandb's tables, sklearn's points (numpy)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from logwriter.media import plot
from logwriter.media.curves import MAX_CURVE_ROWS

# sklearn's doc example: roc_curve gives fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1];
# precision_recall_curve precision [.5, .667, .5, 1, 1] at recall [1, 1, .5, .5, 0]
Y = [0, 0, 1, 1]
SCORES = np.array([0.1, 0.4, 0.35, 0.8])
PROBAS = np.stack([1 - SCORES, SCORES], axis=1)


def test_confusion_matrix_is_wandbs_table(log_run: Any) -> None:
    chart = plot.confusion_matrix(preds=[0, 1, 1, 2], y_true=[0, 1, 2, 2],
                                  class_names=["cat", "dog", "owl"], title="CM")
    logged = log_run({"cm": chart})
    item = logged.item("cm")
    doc = json.loads(logged.data(item))
    assert doc["columns"] == ["Actual", "Predicted", "nPredictions"]
    assert len(doc["data"]) == 9 and doc["data"][:2] == [["cat", "cat", 1], ["cat", "dog", 0]]
    assert ["owl", "dog", 1] in doc["data"] and ["owl", "owl", 1] in doc["data"]
    assert item["chart"] == {"type": "confusion_matrix", "title": "CM", "actual": "Actual",
                             "predicted": "Predicted", "value": "nPredictions"}


def test_confusion_matrix_from_probs_and_without_names() -> None:
    probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]
    chart = plot.confusion_matrix(probs=probs, y_true=[0, 1, 1])
    assert chart.data == [["Class_1", "Class_1", 1], ["Class_1", "Class_2", 0],
                          ["Class_2", "Class_1", 1], ["Class_2", "Class_2", 1]]
    assert chart.chart is not None and chart.chart["title"] == "Confusion Matrix Curve"
    with pytest.raises(ValueError, match="not both"):
        plot.confusion_matrix(probs=probs, preds=[0, 1, 1], y_true=[0, 1, 1])
    with pytest.raises(ValueError, match="2 predictions for 3"):
        plot.confusion_matrix(preds=[0, 1], y_true=[0, 1, 1])
    with pytest.raises(ValueError, match="labels 5 are not indices"):
        plot.confusion_matrix(preds=[0, 5], y_true=[0, 1], class_names=["a", "b"])


def test_roc_curve_matches_sklearn(log_run: Any) -> None:
    chart = plot.roc_curve(Y, PROBAS, labels=["neg", "pos"], classes_to_plot=[1])
    assert chart.columns == ["class", "fpr", "tpr"]
    assert chart.data == [["pos", 0.0, 0.0], ["pos", 0.0, 0.5], ["pos", 0.5, 0.5],
                          ["pos", 0.5, 1.0], ["pos", 1.0, 1.0]]
    logged = log_run({"roc": chart})
    assert logged.item("roc")["chart"] == {
        "type": "roc_curve", "title": "ROC Curve", "x": "fpr", "y": "tpr", "class": "class",
        "x_title": "False positive rate", "y_title": "True positive rate"}
    both = plot.roc_curve(Y, SCORES)  # 1-D scores of a binary problem: both classes
    assert {row[0] for row in both.data} == {0, 1}


def test_pr_curve_is_wandbs_interpolation() -> None:
    chart = plot.pr_curve(Y, PROBAS, classes_to_plot=[1], interp_size=5)
    assert chart.columns == ["class", "precision", "recall"]
    assert chart.data == [[1, 0.667, 1.0], [1, 0.667, 0.75], [1, 1.0, 0.5], [1, 1.0, 0.25],
                          [1, 1.0, 0.0]]
    assert chart.chart is not None and (chart.chart["type"], chart.chart["x"]) == (
        "pr_curve", "recall")
    assert len(plot.pr_curve(Y, PROBAS).data) == 2 * 21  # wandb's default interp_size


def test_long_curves_keep_wandbs_row_limit_with_their_endpoints() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 30_000)
    scores = rng.random(30_000)
    chart = plot.roc_curve(y, scores)
    assert MAX_CURVE_ROWS // 2 <= len(chart.data) <= MAX_CURVE_ROWS
    for cls in (0, 1):
        rows = [r for r in chart.data if r[0] == cls]
        assert rows[0][1:] == [0.0, 0.0] and rows[-1][1:] == [1.0, 1.0]
    assert plot.roc_curve(y, scores).data == chart.data  # deterministic


def test_bad_inputs_name_the_chart() -> None:
    with pytest.raises(ValueError, match=r"roc_curve\(\): y_probas must be"):
        plot.roc_curve([0, 1, 2], [[0.1, 0.9]])
    with pytest.raises(ValueError, match=r"pr_curve\(\): needs y_true"):
        plot.pr_curve()
