"""wandb's classifier charts: ``plot.confusion_matrix``, ``plot.roc_curve``, ``plot.pr_curve``.

Each is a Table with a ``chart`` spec (plot.py), laid out as wandb lays out
the table behind its chart, so a reader who knows wandb's finds the same
columns: confusion_matrix ``Actual, Predicted, nPredictions`` (one row per
cell, class names in both), roc_curve ``class, fpr, tpr``, pr_curve
``class, precision, recall``, values rounded to 3 places as wandb does.

wandb computes the curves with scikit-learn; runwal with numpy, the same
points: ROC is sklearn's ``roc_curve`` (one point per distinct score,
collinear points dropped, starting at (0, 0)); PR is
``precision_recall_curve`` made monotone (running maximum of precision from
the high-recall end) and sampled at ``interp_size`` evenly spaced recall
values, 1 down to 0, as wandb does. A curve with more than
`MAX_CURVE_ROWS` rows (wandb's Table limit) keeps that many: wandb resamples
them at random (stratified by class); runwal keeps evenly spaced points of
each class, endpoints included, in proportion to the class's rows, so the
same input always gives the same chart.
"""

from __future__ import annotations

from typing import Any

from logwriter.media.errors import need
from logwriter.media.table import Table

MAX_CURVE_ROWS = 10_000  # wandb.Table.MAX_ROWS, what its curves are cut to


def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None,
                     class_names: Any = None, title: str = "Confusion Matrix Curve",
                     split_table: bool = False) -> Table:
    """Counts of (true, predicted) class pairs, from ``preds`` or the argmax of ``probs``.

    Without ``class_names`` the classes are the sorted union of the labels
    seen, named ``Class_1``, ``Class_2``, ...; with them, labels must be the
    indices 0..K-1 of the names (wandb's rule).
    """
    what = "plot.confusion_matrix()"
    np = need("numpy", what)
    if probs is not None and preds is not None:
        raise ValueError(f"runwal: {what}: give probs or preds, not both")
    if y_true is None or (probs is None and preds is None):
        raise ValueError(f"runwal: {what}: needs y_true and one of probs or preds")
    if probs is not None:
        preds = np.argmax(np.asarray(probs), axis=1)
    preds, y_true = _labels(preds), _labels(y_true)
    if len(preds) != len(y_true):
        raise ValueError(f"runwal: {what}: {len(preds)} predictions for {len(y_true)} "
                         "true labels")
    if class_names is not None:
        names = [str(n) for n in _labels(class_names)]
        classes: list[Any] = list(range(len(names)))
    else:
        classes = sorted(set(preds) | set(y_true))
        names = [f"Class_{i + 1}" for i in range(len(classes))]
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in (*preds, *y_true) if v not in index})
    if unknown:
        raise ValueError(f"runwal: {what}: labels {', '.join(unknown[:5])} are not indices "
                         f"of the {len(names)} class_names")
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(counts, ([index[v] for v in y_true], [index[v] for v in preds]), 1)
    table = Table(columns=["Actual", "Predicted", "nPredictions"])
    table.data = [[names[i], names[j], int(counts[i, j])]
                  for i in range(len(names)) for j in range(len(names))]
    return _charted(table, "confusion_matrix", title, split_table, actual="Actual",
                    predicted="Predicted", value="nPredictions")


def roc_curve(y_true: Any, y_probas: Any = None, labels: Any = None,
              classes_to_plot: Any = None, title: str = "ROC Curve",
              split_table: bool = False) -> Table:
    """One ROC curve per class (one-vs-rest): ``y_probas`` is (N, K), column i the
    score of the i-th of the sorted distinct ``y_true`` labels."""
    what = "plot.roc_curve()"
    rows: list[tuple[Any, Any, Any]] = []
    for label, y, score in _per_class(y_true, y_probas, labels, classes_to_plot, what):
        fps, tps = _counts(y, score)
        np = need("numpy", what)
        if len(fps) > 2:  # drop collinear points, as sklearn's drop_intermediate
            keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
            fps, tps = fps[keep], tps[keep]
        fps, tps = np.r_[0, fps], np.r_[0, tps]
        fpr = fps / fps[-1] if fps[-1] else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] else np.full(tps.shape, np.nan)
        rows.append((label, fpr, tpr))
    table = _curve_table(["class", "fpr", "tpr"], rows)
    return _charted(table, "roc_curve", title, split_table, x="fpr", y="tpr", **{
        "class": "class", "x_title": "False positive rate", "y_title": "True positive rate"})


def pr_curve(y_true: Any = None, y_probas: Any = None, labels: Any = None,
             classes_to_plot: Any = None, interp_size: int = 21,
             title: str = "Precision-Recall Curve", split_table: bool = False) -> Table:
    """One precision-recall curve per class (one-vs-rest), sampled at ``interp_size``
    recall values from 1 down to 0."""
    what = "plot.pr_curve()"
    if isinstance(interp_size, bool) or not isinstance(interp_size, int) or interp_size < 2:
        raise ValueError(f"runwal: {what}: interp_size must be an int >= 2")
    np = need("numpy", what)
    recall_at = np.linspace(0, 1, interp_size)[::-1]
    rows: list[tuple[Any, Any, Any]] = []
    for label, y, score in _per_class(y_true, y_probas, labels, classes_to_plot, what):
        fps, tps = _counts(y, score)
        predicted = tps + fps
        precision = np.divide(tps, predicted, out=np.zeros(len(tps)), where=predicted != 0)
        recall = tps / tps[-1] if tps[-1] else np.ones(len(tps))
        # sklearn's order (recall falling, ending at (recall 0, precision 1)), made
        # monotone as wandb does, then turned round to search by rising recall
        precision = np.maximum.accumulate(np.r_[precision[::-1], 1.0])[::-1]
        recall = np.r_[recall[::-1], 0.0][::-1]
        at = np.minimum(np.searchsorted(recall, recall_at, side="left"), len(recall) - 1)
        rows.append((label, precision[at], recall_at))
    table = _curve_table(["class", "precision", "recall"], rows)
    return _charted(table, "pr_curve", title, split_table, x="recall", y="precision", **{
        "class": "class", "x_title": "Recall", "y_title": "Precision"})


def _labels(values: Any) -> list[Any]:
    tolist = getattr(values, "tolist", None)
    out = tolist() if callable(tolist) else list(values)
    return [v.item() if hasattr(v, "item") else v for v in out]


def _per_class(y_true: Any, y_probas: Any, labels: Any, classes_to_plot: Any,
               what: str) -> list[tuple[Any, Any, Any]]:
    """(label, is-this-class bools, scores) per plotted class, wandb's way of naming
    them: ``labels[c]`` for an int class c when labels are given, else c."""
    np = need("numpy", what)
    if y_true is None or y_probas is None:
        raise ValueError(f"runwal: {what}: needs y_true and y_probas")
    truth = np.asarray(y_true)
    probas = np.asarray(y_probas, dtype=np.float64)
    if truth.ndim != 1 or not truth.size:
        raise ValueError(f"runwal: {what}: y_true must be a non-empty 1-D sequence of labels")
    classes = np.unique(truth)
    if probas.ndim == 1 and len(classes) <= 2:  # binary: the score of the second class
        probas = np.stack([1.0 - probas, probas], axis=1)
    if probas.ndim != 2 or probas.shape[0] != truth.size:
        raise ValueError(f"runwal: {what}: y_probas must be (N, classes) for {truth.size} "
                         f"labels, got shape {probas.shape}")
    if probas.shape[1] < len(classes):
        raise ValueError(f"runwal: {what}: y_true has {len(classes)} classes, y_probas "
                         f"{probas.shape[1]} columns")
    chosen = classes if classes_to_plot is None else np.asarray(classes_to_plot)
    out = []
    for i in np.where(np.isin(classes, chosen))[0]:
        label = classes[i].item()
        if labels is not None and isinstance(label, int):
            label = labels[label]
        out.append((label, truth == classes[i], probas[:, i]))
    return out


def _counts(y: Any, score: Any) -> tuple[Any, Any]:
    """False and true positives at each distinct score, highest score first (sklearn's
    _binary_clf_curve)."""
    import numpy as np

    order = np.argsort(score, kind="mergesort")[::-1]
    score, y = score[order], y[order]
    last = np.r_[np.where(np.diff(score))[0], y.size - 1]
    tps = np.cumsum(y)[last].astype(np.float64)
    return 1.0 + last - tps, tps


def _curve_table(columns: list[str], rows: list[tuple[Any, Any, Any]]) -> Table:
    import numpy as np

    total = sum(len(a) for _, a, _ in rows)
    table = Table(columns=columns)
    for label, a, b in rows:
        if total > MAX_CURVE_ROWS:
            n = max(2, MAX_CURVE_ROWS * len(a) // total)
            at = np.unique(np.linspace(0, len(a) - 1, n).round().astype(int))
            a, b = a[at], b[at]
        for x, y in zip(np.round(a, 3).tolist(), np.round(b, 3).tolist(), strict=True):
            table.data.append([label, x, y])
    return table


def _charted(table: Table, kind: str, title: str, split_table: bool, **fields: Any) -> Table:
    table.chart = {"type": kind, "title": str(title), **fields}
    if split_table:
        table.chart["split_table"] = True
    return table
