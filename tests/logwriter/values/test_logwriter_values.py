"""Bad-input table: every value either raises naming its key, before anything is
queued, or is stored exactly; the run keeps working either way."""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import logwriter
from logwriter_util import QUIET, history, read_clean

MiB = 1024 * 1024


class Color(enum.IntEnum):
    RED = 3


BAD: list[tuple[Any, type[Exception], str]] = [
    ({"a": {1, 2}}, TypeError, "key 'a' has unsupported type set"),
    ({"a": {"b": {1}}}, TypeError, "key 'a/b'"),
    ({"a": b"raw"}, TypeError, "key 'a' has unsupported type bytes"),
    ({"a": object()}, TypeError, "key 'a'"),
    ({"a": [1, {2}]}, TypeError, "key 'a'"),
    ({"a": {"ok": 1, "bad": complex(1, 2)}}, TypeError, "key 'a/bad'"),
    ({"a": np.array([object()] * 3)}, TypeError, "key 'a' has unsupported type object"),
    ({1: 2.0}, TypeError, "keys must be str"),
    ({"a": {2: 1.0}}, TypeError, "keys must be str"),
    ("not a dict", TypeError, "expected a dict"),
    ({"a": 2**64}, ValueError, "key 'a'"),
    ({"a": -(2**63) - 1}, ValueError, "key 'a'"),
    ({"a": "x" * (4 * MiB + 1)}, ValueError, "key 'a'"),
    ({"a": ["y" * MiB] * 5}, ValueError, "key 'a'"),
]

GOOD: list[tuple[Any, dict[str, Any]]] = [
    ({"nan": float("nan"), "inf": math.inf, "ninf": -math.inf},
     {"nan": math.nan, "inf": math.inf, "ninf": -math.inf}),
    ({"none": None, "t": True, "s": "text", "i": -(2**63), "u": 2**64 - 1},
     {"none": None, "t": True, "s": "text", "i": -(2**63), "u": 2**64 - 1}),
    ({"a": {"b": {"c": 1}, "d": 2.5}}, {"a/b/c": 1, "a/d": 2.5}),
    ({"l": [1, 2.5, "x", None, [True]], "t": (1, 2)},
     {"l": [1, 2.5, "x", None, [True]], "t": [1, 2]}),
    ({"l": [{"k": 1}]}, {"l": [{"k": 1}]}),
    ({"f32": np.float32(1.5), "i64": np.int64(3), "b": np.bool_(True), "f64": np.float64(0.25)},
     {"f32": 1.5, "i64": 3, "b": True, "f64": 0.25}),
    ({"zero_d": np.array(2.0), "one": np.array([7]), "str": np.str_("hi")},
     {"zero_d": 2.0, "one": 7, "str": "hi"}),
    ({"short": np.zeros(3)}, {"short": [0.0, 0.0, 0.0]}),  # > 32 elements: media/, a Histogram
    ({"enum": Color.RED}, {"enum": 3}),
    ({"big": "z" * MiB}, {"big": "z" * MiB}),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(("data", "exc", "message"), BAD, ids=[m for _, _, m in BAD])
def test_bad_values_raise_in_the_caller_and_change_nothing(
    tmp_path: Path, data: Any, exc: type[Exception], message: str
) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.log({"before": 1})
    with pytest.raises(exc) as info:
        run.log(data)
    assert message in str(info.value)
    assert run.step == 1  # the bad call did not advance the step
    assert run._writer is not None and run._writer.alive
    run.log({"after": 2})
    run.finish()
    assert history(read_clean(run.run_dir)) == {0: {"before": 1}, 1: {"after": 2}}


@pytest.mark.parametrize(("data", "stored"), GOOD, ids=[",".join(s) for _, s in GOOD])
def test_good_values_are_stored_exactly(tmp_path: Path, data: Any, stored: dict[str, Any]) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.log(data)
    run.finish()
    rows = history(read_clean(run.run_dir))
    assert list(rows) == [0]
    assert _same(rows[0], stored), rows[0]


def test_commit_false_with_a_bad_value_keeps_the_pending_row(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.log({"a": 1}, commit=False)
    with pytest.raises(TypeError, match="'b'"):
        run.log({"b": {1}})
    run.log({"c": 3})
    run.finish()
    assert history(read_clean(run.run_dir)) == {0: {"a": 1, "c": 3}}


def test_config_and_summary_validate_too(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    with pytest.raises(ValueError, match="key 'opt'"):  # a set would be stored as a list
        run.config.update({"lr": 0.1, "opt": "x" * (5 << 20)})
    assert "lr" not in run.config  # nothing of the failed update was applied
    with pytest.raises(TypeError, match="key 'best'"):
        run.summary["best"] = object()
    with pytest.raises(TypeError, match="step"):
        run.log({"a": 1}, step=1.5)  # type: ignore[arg-type]
    run.finish()
    records = read_clean(run.run_dir)
    assert [r.kind for r in records] == ["run", "exit"]
