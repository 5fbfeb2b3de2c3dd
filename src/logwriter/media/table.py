"""Table: wandb's ``Table(columns=None, data=None, rows=None, dataframe=None, ...)``.

Cells are scalars (int, float, bool, str, None; numpy/torch scalars
converted), lists and dicts of those, or Images. The table is mutable
(``add_data``, ``add_column``) until it is logged: ``log()`` snapshots it in
the caller's thread (checking every cell, naming the key, row and column of
a bad one) and the media worker stores each image cell's PNG and the table
as JSON, ``{"columns": [...], "data": [[...], ...]}`` (the layout of
MLflow's ``log_table``), an image cell as ``{"_type": "image", "file", ...}``.
Non-finite floats are written as null (JSON has no NaN). A DataFrame
(``dataframe=``) needs pandas, which the caller passing one has.
"""

from __future__ import annotations

import json
import math
from typing import Any

from logwriter.media.base import Media, module_of, type_name
from logwriter.media.image import Image
from logwriter.media.store import MediaStore
from logwriter.values.convert import convert
from logwriter.values.text import clean_text

DEFAULT_COLUMNS = ("Input", "Output", "Expected")  # wandb's
MAX_ROWS = 200_000


class Table(Media):
    """Rows of cells under named columns; ``chart`` is set by logwriter.plot."""

    kind = "table"

    def __init__(self, columns: Any = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, dtype: Any = None, optional: Any = True,
                 allow_mixed_types: bool = False, log_mode: str | None = None) -> None:
        what = "Table()"
        self.chart: dict[str, Any] | None = None
        if dataframe is not None:
            if module_of(dataframe) != "pandas":
                raise TypeError(f"runwal: {what}: dataframe must be a pandas DataFrame, got "
                                f"{type_name(dataframe)}")
            columns = list(dataframe.columns) if columns is None else columns
            data = [list(r) for r in dataframe.itertuples(index=False, name=None)]
        elif data is None:
            data = rows
        if data is not None and hasattr(data, "tolist") and not isinstance(data, list):
            data = data.tolist()  # a numpy array of rows
        rows_in = [] if data is None else list(data)
        if columns is None:
            columns = (list(DEFAULT_COLUMNS) if not rows_in
                       else [f"Column_{i + 1}" for i in range(len(rows_in[0]))])
        self.columns: list[str] = _names(columns, what)
        self.data: list[list[Any]] = []
        for row in rows_in:
            self.add_data(*row)

    def add_data(self, *data: Any) -> None:
        """Append one row (one value per column)."""
        if len(data) != len(self.columns):
            raise ValueError(f"runwal: Table.add_data(): {len(data)} values for "
                             f"{len(self.columns)} columns {self.columns}")
        self.data.append(list(data))

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Append a column of one value per row."""
        (name,) = _names([name], "Table.add_column()")
        if name in self.columns:
            raise ValueError(f"runwal: Table.add_column(): column {name!r} exists already")
        values = data.tolist() if hasattr(data, "tolist") else list(data)
        if self.data and len(values) != len(self.data):
            raise ValueError(f"runwal: Table.add_column(): {len(values)} values for "
                             f"{len(self.data)} rows")
        if not self.data:
            self.data = [[] for _ in values]
        self.columns.append(name)
        for row, value in zip(self.data, values, strict=True):
            row.append(value)

    def get_column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.data]

    def freeze(self, key: str) -> Media:
        """The table as it is now, every cell checked: what log() stores."""
        if len(self.data) > MAX_ROWS:
            raise ValueError(f"the table has {len(self.data)} rows, over {MAX_ROWS}; "
                             "log it in parts or save it as a file with run.save()")
        cells: list[list[Any]] = []
        size = 0
        for r, row in enumerate(self.data):
            out = []
            for c, value in enumerate(row):
                if isinstance(value, Image):
                    out.append(value)
                    size += value.nbytes
                    continue
                if isinstance(value, Media):
                    raise TypeError(f"row {r}, column {self.columns[c]!r}: a {value.kind} "
                                    "cell; table cells are scalars, lists or Images")
                where = f"Table row {r}, column {self.columns[c]!r}"
                value, n = convert(value, key, where)
                out.append(_finite(value))
                size += n
            cells.append(out)
        return _Snapshot(list(self.columns), cells, self.chart, size)

    def __repr__(self) -> str:
        return f"<Table {len(self.data)} rows x {self.columns}>"


class _Snapshot(Media):
    kind = "table"

    def __init__(self, columns: list[str], rows: list[list[Any]], chart: Any,
                 nbytes: int) -> None:
        self.columns = columns
        self.rows = rows
        self.chart = chart
        self.nbytes = nbytes

    def items(self, store: MediaStore) -> list[dict[str, Any]]:
        data = [[v.cell(store) if isinstance(v, Image) else v for v in row] for row in self.rows]
        text = json.dumps({"columns": self.columns, "data": data}, ensure_ascii=False,
                          allow_nan=False, separators=(",", ":"))
        item = store.put("table", "json", text.encode("utf-8"))
        item.update(format="json", rows=len(data), columns=self.columns)
        if self.chart is not None:
            item["chart"] = self.chart
        return [item]


def _names(columns: Any, what: str) -> list[str]:
    if isinstance(columns, str) or not hasattr(columns, "__iter__"):
        raise TypeError(f"runwal: {what}: columns must be a list of names")
    names = [clean_text(str(c)) for c in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"runwal: {what}: column names must be unique: {names}")
    return names


def _finite(value: Any) -> Any:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is list:
        return [_finite(v) for v in value]
    if type(value) is dict:
        return {k: _finite(v) for k, v in value.items()}
    return value
