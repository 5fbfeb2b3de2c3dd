"""``logwriter.plot``: wandb's chart presets, each a Table with a ``chart`` spec.

``run.log({"roc": plot.line(table, "x", "y", title="ROC")})`` stores the
table like any other (table.py) and the item's ``chart`` says how to draw
it: ``{"type": "line" | "scatter" | "bar" | "histogram" | "line_series",
"title": str, ...}`` with the column names the preset takes (``x``, ``y``,
``stroke``, ``label``, ``value``; ``line_series``: ``x``, ``series``,
``y``, ``xname``). Signatures are wandb's; ``split_table`` is accepted and
recorded. wandb's classifier charts, ``confusion_matrix``, ``roc_curve`` and
``pr_curve``, are computed with numpy in curves.py (their tables and chart
types are there and in docs/FORMAT.md).
"""

from __future__ import annotations

from typing import Any

from logwriter.media.curves import confusion_matrix, pr_curve, roc_curve
from logwriter.media.table import Table

__all__ = ["bar", "confusion_matrix", "histogram", "line", "line_series", "pr_curve",
           "roc_curve", "scatter"]


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "",
         split_table: bool = False) -> Table:
    return _chart(table, "line", title, split_table, x=x, y=y, stroke=stroke)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> Table:
    return _chart(table, "scatter", title, split_table, x=x, y=y)


def bar(table: Table, label: str, value: str, title: str = "",
        split_table: bool = False) -> Table:
    return _chart(table, "bar", title, split_table, label=label, value=value)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> Table:
    return _chart(table, "histogram", title, split_table, value=value)


def line_series(xs: Any, ys: Any, keys: Any = None, title: str = "", xname: str = "x",
                split_table: bool = False) -> Table:
    """Several lines in one chart: ``ys`` a list of lists, ``xs`` one list for all or
    one per line; ``keys`` the lines' names (``key_0``, ... by default)."""
    ys = [list(_values(y)) for y in _values(ys)]
    xs = list(_values(xs))
    if not ys:
        raise ValueError("runwal: plot.line_series(): ys is empty")
    per_line = bool(xs) and all(hasattr(x, "__len__") and not isinstance(x, str) for x in xs)
    xs_of = [list(_values(x)) for x in xs] if per_line else [xs] * len(ys)
    if len(xs_of) != len(ys):
        raise ValueError(f"runwal: plot.line_series(): {len(xs_of)} xs for {len(ys)} lines")
    names = [f"key_{i}" for i in range(len(ys))] if keys is None else [str(k) for k in keys]
    if len(names) != len(ys):
        raise ValueError(f"runwal: plot.line_series(): {len(names)} keys for {len(ys)} lines")
    table = Table(columns=["step", "lineKey", "lineVal"])
    for name, x_line, y_line in zip(names, xs_of, ys, strict=True):
        if len(x_line) != len(y_line):
            raise ValueError(f"runwal: plot.line_series(): line {name!r} has {len(x_line)} "
                             f"xs and {len(y_line)} ys")
        for x, y in zip(x_line, y_line, strict=True):
            table.add_data(x, name, y)
    return _chart(table, "line_series", title, split_table, x="step", series="lineKey",
                  y="lineVal", xname=str(xname))


def _values(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def _chart(table: Table, kind: str, title: str, split_table: bool, **fields: Any) -> Table:
    what = f"plot.{kind}()"
    if not isinstance(table, Table):
        raise TypeError(f"runwal: {what}: expected a Table, got {type(table).__name__}")
    for role, column in fields.items():
        if column is not None and role != "xname" and column not in table.columns:
            raise ValueError(f"runwal: {what}: {role}={column!r} is not a column of the table "
                             f"{table.columns}")
    out = Table(columns=list(table.columns))
    out.data = [list(row) for row in table.data]
    out.chart = {"type": kind, "title": str(title), **{k: v for k, v in fields.items()
                                                        if v is not None}}
    if split_table:
        out.chart["split_table"] = True
    return out
