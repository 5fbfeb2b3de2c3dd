"""What log() does with rich values: steps, bad input, resume, missing extras."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import logwriter
from logwriter.media import Histogram, Image, MissingExtraError, Object3D
from logwriter_util import QUIET, history, of_kind, read_clean

RGB = np.zeros((4, 4, 3), dtype=np.uint8)


def test_media_and_scalars_of_one_call_share_its_step(log_run: Any) -> None:
    logged = log_run({"loss": 1.0}, {"img": Image(RGB), "loss": 0.5},
                     ({"img": Image(RGB)}, {"commit": False}), {"acc": 0.9},
                     ({"nested": {"img": Image(RGB), "x": 1}}, {"step": 7}))
    assert [(b["key"], b["step"]) for b in logged.media] == [
        ("img", 1), ("img", 2), ("nested/img", 7)]
    rows = history(logged.records)
    assert rows == {0: {"loss": 1.0}, 1: {"loss": 0.5}, 2: {"acc": 0.9}, 7: {"nested/x": 1}}


def test_a_row_of_media_only_advances_the_step(log_run: Any) -> None:
    logged = log_run({"img": Image(RGB)}, {"img": Image(RGB)}, {"loss": 1.0})
    assert [b["step"] for b in logged.media] == [0, 1]
    assert history(logged.records) == {2: {"loss": 1.0}}


BAD: list[tuple[Any, type[Exception], str]] = [
    ({"g": [Image(RGB), 3]}, TypeError, "key 'g' mixes image values with others"),
    ({"g": [Image(RGB), Histogram([1.0])]}, TypeError, "key 'g' mixes"),
    ({"h": [Histogram([1.0]), Histogram([2.0])]}, TypeError, "key 'h' holds a list"),
    ({"a": {"b": np.array(["x"] * 40)}}, TypeError, "key 'a/b'"),
    ({"img": Image(RGB), "bad": object()}, TypeError, "key 'bad'"),
    ({"img": Image(RGB), 3: 1.0}, TypeError, "keys must be str"),
    ({"a/img": 1.0, "a": {"img": Image(RGB)}}, ValueError, "key 'a/img' is given twice"),
    ({"x\udcff": Image(RGB)}, ValueError, "x"),
]


@pytest.mark.parametrize(("data", "error", "match"), BAD)
def test_bad_input_raises_naming_the_key_and_loses_nothing(
        tmp_path: Path, data: Any, error: type[Exception], match: str) -> None:
    with logwriter.init(project="p", id="bad", dir=tmp_path, mode="offline", **QUIET) as run:
        run.log({"img": Image(RGB), "loss": 1.0})
        with pytest.raises(error, match=match):
            run.log({"loss": 2.0, **data})
        run.log({"img": Image(RGB), "loss": 3.0})
    records = read_clean(run.run_dir)
    assert history(records) == {0: {"loss": 1.0}, 1: {"loss": 3.0}}
    assert [(b["key"], b["step"]) for b in of_kind(records, "media")] == [("img", 0), ("img", 1)]
    assert of_kind(records, "exit")[0]["status"] == "finished"


def test_resume_continues_after_the_last_media_step_and_reuses_files(log_run: Any) -> None:
    first = log_run({"loss": 1.0}, {"img": Image(RGB)}, {"img": Image(RGB)})
    files = first.media_files()
    (files[0].parent / f".{files[0].name}.999999999.1.tmp").write_bytes(b"half")  # killed
    second = log_run({"img": Image(RGB), "loss": 2.0}, resume="allow")
    assert [b["step"] for b in second.media] == [1, 2, 3]
    assert history(second.records)[3] == {"loss": 2.0}
    assert second.media_files() == files  # the same file, and the temp file swept


def test_a_store_that_fails_writes_an_error_record_and_creates_nothing(tmp_path: Path
                                                                      ) -> None:
    from logwriter.media.logged import MediaJob
    from logwriter.media.store import MediaStore

    files = tmp_path / "run" / "files"  # the run directory was deleted
    body = MediaJob("img", 3, "image", [Image(RGB), Image(RGB + 1)], MediaStore(files))()
    assert body["key"] == "img" and body["step"] == 3 and body["items"] == []
    assert body["error"].startswith("FileNotFoundError")
    assert not (tmp_path / "run").exists()  # never re-created


def test_a_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'runwal\[media\]'") as info:
        Image(RGB, file_type="jpg")
    assert isinstance(info.value, ImportError) and "needs pillow" in str(info.value)
    Image(RGB)  # PNG needs no extra


def test_object3d_says_it_is_not_supported() -> None:
    with pytest.raises(NotImplementedError, match=r"Object3D .* not supported"):
        Object3D(np.zeros((3, 3)))


def test_disabled_runs_ignore_media(tmp_path: Path) -> None:
    with logwriter.init(project="p", dir=tmp_path, mode="disabled", **QUIET) as run:
        run.log({"img": Image(RGB)})
    assert not list(tmp_path.iterdir())


def test_the_copies_count_in_the_writer_queue_memory_bound(tmp_path: Path) -> None:
    big = np.zeros((512, 512, 3), dtype=np.uint8)
    with logwriter.init(project="p", dir=tmp_path, mode="offline", **QUIET) as run:
        run.log({"img": Image(big), "g": [Image(big), Image(big)], "h": np.zeros(1000)})
        worker = run._media
        assert worker is not None and worker.in_bytes >= 3 * big.nbytes + 1000 * 8
        assert worker.max_bytes == run._writer.queue.max_bytes  # type: ignore[union-attr]
    assert worker.out_bytes == worker.in_bytes and run.stats()["media_dropped"] == 0


def test_the_sweep_keeps_this_process_temp_files(tmp_path: Path) -> None:
    import os

    from logwriter.media.store import MediaStore

    kind = tmp_path / "media" / "image"
    kind.mkdir(parents=True)
    ours = kind / f".x.png.{os.getpid()}.77.tmp"  # another store of this process, writing
    ours.write_bytes(b"in flight")
    dead = kind / ".x.png.999999999.77.tmp"
    dead.write_bytes(b"left by a killed process")
    MediaStore(tmp_path).put("image", "png", b"\x89PNG")
    assert ours.exists() and not dead.exists()
