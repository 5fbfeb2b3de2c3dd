"""``wandb.plot`` as a module, so that ``import wandb.plot`` and ``from wandb.plot import
line`` work as with wandb: runwal's chart presets (logwriter/media/plot.py), and
``plot_table`` for a custom Vega chart (ultralytics draws its curves with it): the
table is logged as it is, the chart spec's name recorded as its title."""

from __future__ import annotations

from typing import Any

from logwriter.media.plot import (
    bar,
    confusion_matrix,
    histogram,
    line,
    line_series,
    pr_curve,
    roc_curve,
    scatter,
)
from logwriter.media.table import Table


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None,
               split_table: bool = False) -> Table:
    """wandb.plot_table: ``data_table`` with a ``custom`` chart naming the Vega spec and
    its field mapping (runwal draws no Vega; MLflow shows the table)."""
    if not isinstance(data_table, Table):
        raise TypeError(f"runwal: plot_table(): expected a Table, got "
                        f"{type(data_table).__name__}")
    out = Table(columns=list(data_table.columns))
    out.data = [list(row) for row in data_table.data]
    out.chart = {"type": "custom", "title": str(vega_spec_name),
                 "fields": {str(k): str(v) for k, v in dict(fields or {}).items()}}
    if string_fields:
        out.chart["string_fields"] = {str(k): str(v) for k, v in string_fields.items()}
    if split_table:
        out.chart["split_table"] = True
    return out


__all__ = ["bar", "confusion_matrix", "histogram", "line", "line_series", "plot_table",
           "pr_curve", "roc_curve", "scatter"]
