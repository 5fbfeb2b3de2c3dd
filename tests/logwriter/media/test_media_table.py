"""Table and plot: the JSON file holds what was logged, image cells as files."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from logwriter.media import Histogram, Image, Table, plot

RGB = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)


def table_json(logged: Any, key: str) -> tuple[dict[str, Any], Any]:
    item = logged.item(key)
    return item, json.loads(logged.data(item))


def test_columns_and_data_round_trip(log_run: Any) -> None:
    table = Table(columns=["name", "score", "ok", "tags"],
                  data=[["a", 1.5, True, ["x"]], ["b", np.float32(2.0), False, []]])
    table.add_data("c", math.nan, None, {"k": 1})
    logged = log_run({"t": table})
    item, doc = table_json(logged, "t")
    assert doc == {"columns": ["name", "score", "ok", "tags"],
                   "data": [["a", 1.5, True, ["x"]], ["b", 2.0, False, []],
                            ["c", None, None, {"k": 1}]]}
    assert (item["format"], item["rows"], item["columns"]) == ("json", 3, doc["columns"])
    assert item["file"].startswith("media/table/") and "chart" not in item


def test_image_cells_are_stored_as_files(log_run: Any) -> None:
    table = Table(columns=["id", "img"])
    table.add_data(0, Image(RGB, caption="zero"))
    table.add_data(1, Image(RGB))
    logged = log_run({"t": table})
    _, doc = table_json(logged, "t")
    cells = [row[1] for row in doc["data"]]
    assert cells[0]["_type"] == "image" and cells[0]["caption"] == "zero"
    assert cells[0]["file"] == cells[1]["file"]  # the same pixels: one file
    assert (cells[0]["width"], cells[0]["height"]) == (3, 2)
    logged.data(cells[0])  # the file is there, size and sha256 as said


def test_the_table_is_snapshot_when_logged(log_run: Any) -> None:
    table = Table(columns=["x"], data=[[1]])
    logged = log_run({"t": table}, ({"t": table}, {}))
    table.add_data(3)  # after both logs: in neither
    first, second = (json.loads((logged.dir / "files" / b["items"][0]["file"]).read_bytes())
                     for b in logged.of("t"))
    assert first == second == {"columns": ["x"], "data": [[1]]}


def test_dataframe_add_column_and_defaults(log_run: Any) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    table = Table(dataframe=df)
    table.add_column("c", np.array([0.5, 0.25]))
    assert table.get_column("c") == [0.5, 0.25]
    logged = log_run({"t": table, "d": Table(data=[[1, 2]]), "e": Table()})
    assert table_json(logged, "t")[1] == {"columns": ["a", "b", "c"],
                                          "data": [[1, "x", 0.5], [2, "y", 0.25]]}
    assert table_json(logged, "d")[1]["columns"] == ["Column_1", "Column_2"]
    assert table_json(logged, "e")[1] == {"columns": ["Input", "Output", "Expected"],
                                          "data": []}


def test_bad_cells_name_the_key_row_and_column(log_run: Any) -> None:
    with pytest.raises(ValueError, match="2 values for 1 columns"):
        Table(columns=["x"], data=[[1, 2]])
    with pytest.raises(ValueError, match="unique"):
        Table(columns=["x", "x"])
    bad = Table(columns=["x", "y"], data=[[1, object()]])
    with pytest.raises(TypeError, match=r"key 't'.*row 0, column 'y'"):
        log_run({"t": bad})
    with pytest.raises(TypeError, match="histogram cell"):
        log_run({"t": Table(columns=["h"], data=[[Histogram([1.0])]])}, run_id="h")


def test_plot_presets_carry_a_chart_spec(log_run: Any) -> None:
    table = Table(columns=["x", "y", "label"], data=[[0, 1.0, "a"], [1, 2.0, "b"]])
    logged = log_run({
        "line": plot.line(table, "x", "y", title="L"),
        "scatter": plot.scatter(table, "x", "y"),
        "bar": plot.bar(table, "label", "y", title="B"),
        "hist": plot.histogram(table, "y"),
        "series": plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"],
                                   title="S", xname="epoch"),
    })
    assert logged.item("line")["chart"] == {"type": "line", "title": "L", "x": "x", "y": "y"}
    assert logged.item("scatter")["chart"]["type"] == "scatter"
    assert logged.item("bar")["chart"] == {"type": "bar", "title": "B", "label": "label",
                                           "value": "y"}
    assert logged.item("hist")["chart"] == {"type": "histogram", "title": "", "value": "y"}
    item, doc = table_json(logged, "series")
    assert item["chart"] == {"type": "line_series", "title": "S", "x": "step",
                             "series": "lineKey", "y": "lineVal", "xname": "epoch"}
    assert doc["columns"] == ["step", "lineKey", "lineVal"]
    assert doc["data"][:2] == [[0, "up", 1], [1, "up", 2]] and len(doc["data"]) == 6
    assert table.chart is None  # the preset made a copy
    with pytest.raises(ValueError, match="'nope' is not a column"):
        plot.line(table, "x", "nope")
    with pytest.raises(ValueError, match="2 xs for 1 lines"):
        plot.line_series([[0], [1]], [[1]])
