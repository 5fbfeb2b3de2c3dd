"""Values that used to be accepted and then silently cost their neighbours.

Each must be caught on the caller's thread with a clear error naming the key
(the run goes on, earlier and later records intact), or stored safely:

* steps outside [0, 2**63) (2**64 made every later row unpackable);
* lone surrogates (non-UTF-8 argv, file names, surrogateescape streams): keys
  refused, values and metadata stored with the bad bytes escaped;
* ``{"a/b": 1, "a": {"b": 2}}``: one key twice once flattened;
* a long config value (MLflow cuts params at 6,000 chars; the WAL keeps it whole).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import logwriter
from logwriter.machine.console import ConsoleBuffer
from logwriter.values.text import clean_text
from logwriter_util import QUIET, history, of_kind, read_clean

BAD = "caf\udce9"  # what Python makes of b"caf\xe9" with surrogateescape
ESCAPED = "caf\\xe9"


def test_steps_outside_int64_are_refused_and_later_rows_survive(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.log({"a": 0})
    for bad in (2**64, 2**63, -1):
        with pytest.raises(ValueError, match=r"step=.*\[0, 2\*\*63\)"):
            run.log({"a": 1}, step=bad)
    with pytest.raises(TypeError, match="step"):
        run.log({"a": 1}, step=1.5)  # type: ignore[arg-type]
    for i in range(1, 50):
        run.log({"a": i})
    run.log({"a": 99}, step=2**63 - 1)
    run.log({"last": 1}, commit=False)
    run.finish()
    rows = history(read_clean(run.run_dir))
    assert [rows[s]["a"] for s in range(50)] == list(range(50))
    assert rows[2**63 - 1] == {"a": 99, "last": 1}


def test_the_step_counter_stops_at_2_to_the_63(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    run.log({"a": 1}, step=2**63 - 1)
    run.log({"b": 1})  # commits step 2**63 - 1 (the counter is now 2**63)
    with pytest.raises(ValueError, match=r"2\*\*63"):
        run.log({"c": 1})
    run.finish()
    assert history(read_clean(run.run_dir)) == {2**63 - 1: {"a": 1, "b": 1}}


def test_keys_with_lone_surrogates_are_refused_naming_the_key(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    with pytest.raises(ValueError, match=r"caf.udce9"):
        run.log({BAD: 1.0})
    with pytest.raises(ValueError, match=r"caf.udce9"):
        run.log({"ok": {BAD: 1.0}})
    with pytest.raises(ValueError, match=r"caf.udce9"):
        run.config[BAD] = 1
    with pytest.raises(ValueError, match=r"caf.udce9"):
        run.summary[BAD] = 1
    with pytest.raises(ValueError, match=r"caf.udce9"):
        run.define_metric(BAD, summary="max")
    run.log({"fine": 1.0})
    run.finish()
    assert history(read_clean(run.run_dir)) == {0: {"fine": 1.0}}


def test_values_and_metadata_with_lone_surrogates_are_stored_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py", f"--name={BAD}"])
    run = logwriter.init(dir=tmp_path, name=BAD, notes=BAD, config={"path": BAD}, **QUIET)
    run.log({"file": BAD, "loss": 0.5})
    run.log({"nested": {"list": [BAD, 1]}})
    run.summary["where"] = BAD
    run.alert(BAD, BAD)
    run.finish()
    records = read_clean(run.run_dir)
    body = of_kind(records, "run")[0]  # the RUN record is there, argv escaped
    assert body["argv"] == ["train.py", f"--name={ESCAPED}"] and body["name"] == ESCAPED
    assert of_kind(records, "config")[0] == {"path": ESCAPED}
    rows = history(records)
    assert rows[0] == {"file": ESCAPED, "loss": 0.5}
    assert rows[1] == {"nested/list": [ESCAPED, 1]}
    summary = {k: v for s in of_kind(records, "summary") for k, v in s.items()}
    assert summary["where"] == ESCAPED and summary["file"] == ESCAPED  # the computed summary too
    assert of_kind(records, "alert")[0]["text"] == ESCAPED


def test_console_text_with_lone_surrogates_keeps_its_neighbours(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    writer = run._writer
    assert writer is not None
    buf = ConsoleBuffer(writer.put)
    buf.add("stdout", "epoch 1\n")
    buf.add("stdout", f"saved {BAD}\n")  # a surrogateescape'd file name printed
    buf.add("stdout", "epoch 2\n")
    buf.drain()
    run.finish()
    texts = [b["text"] for b in of_kind(read_clean(run.run_dir), "console")]
    assert texts == [f"epoch 1\nsaved {ESCAPED}\nepoch 2\n"]


def test_saved_file_with_an_undecodable_name_is_recorded(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    raw = os.path.join(os.fsencode(work), b"ckpt-\xe9.pt")
    with open(raw, "wb") as fh:
        fh.write(b"weights")
    run = logwriter.init(dir=tmp_path / "runs", **QUIET)
    assert run.save(str(work / "*.pt")) == ["ckpt-\\xe9.pt"]
    run.finish()
    files = of_kind(read_clean(run.run_dir), "file")
    assert [f["path"] for f in files] == ["ckpt-\\xe9.pt"]
    assert (Path(run.run_dir) / "files" / "ckpt-\\xe9.pt").read_bytes() == b"weights"


def test_clean_text_escapes_only_what_is_not_text() -> None:
    assert clean_text("plain") == "plain"
    assert clean_text("héllo ✓") == "héllo ✓"
    assert clean_text(BAD) == ESCAPED
    assert clean_text("x\ud800y") == "x\\ud800y"  # a surrogate surrogateescape never makes
    for text in (BAD, "x\ud800y", "\udcff\udc80"):
        clean_text(text).encode("utf-8")  # always valid


@pytest.mark.parametrize("data", [{"a/b": 1, "a": {"b": 2}}, {"a": {"b": 2}, "a/b": 1}])
def test_one_key_twice_once_flattened_is_refused(tmp_path: Path, data: dict) -> None:
    run = logwriter.init(dir=tmp_path, **QUIET)
    with pytest.raises(ValueError, match="'a/b'"):
        run.log(data)
    run.log({"a": {"b": 3}})
    run.finish()
    assert history(read_clean(run.run_dir)) == {0: {"a/b": 3}}


def test_config_and_summary_keys_that_flatten_to_one_name_are_refused(tmp_path: Path) -> None:
    run = logwriter.init(dir=tmp_path, config={"opt/lr": 0.1}, **QUIET)
    with pytest.raises(ValueError, match="'opt/lr'"):
        run.config.update({"opt": {"lr": 0.2}})
    with pytest.raises(ValueError, match="'x/y'"):
        run.config.update({"x/y": 1, "x": {"y": 2}})
    run.config.update({"opt/lr": 0.3})  # the same key again is a change, not a clash
    with pytest.raises(ValueError, match="'s/t'"):
        run.summary.update({"s/t": 1, "s": {"t": 2}})
    run.finish()
    assert of_kind(read_clean(run.run_dir), "config") == [{"opt/lr": 0.1}, {"opt/lr": 0.3}]


def test_a_long_config_value_is_kept_whole_in_the_log(tmp_path: Path) -> None:
    long = "p" * 10_000  # MLflow cuts params at 6,000 characters; the WAL does not
    run = logwriter.init(dir=tmp_path, config={"prompt": long}, **QUIET)
    run.finish()
    assert of_kind(read_clean(run.run_dir), "config")[0]["prompt"] == long
