"""logwriter.tensorboard: event files written here by tensorboardX and torch, read back.

Real writers, no hand-made protobufs: scalars, text, images, histograms and
hparams from each, a torn tail, a damaged record, and a file read as it grows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from importsources import event_files, tbx_writer, torch_writer, write_scalars
from logwriter.tensorboard.events import read_events
from logwriter.tensorboard.tfrecord import read_records
from schema.tfrecord import HEADER, frame


def write_all(writer_cls: Any, logdir: Path) -> None:
    w = writer_cls(str(logdir))
    for step in range(5):
        w.add_scalar("train/loss", 1.0 / (step + 1), step)
    w.add_text("notes", "hello *world*", 2)
    img = np.zeros((3, 4, 6), dtype=np.uint8)
    img[0] = 255
    w.add_image("sample", img, 3)
    w.add_histogram("weights", np.array([0.5, 1.5, 1.5, 2.5]), 4)
    w.add_hparams({"lr": 0.01, "opt": "adam", "layers": 3}, {"hparam/acc": 0.75})
    w.close()



@pytest.mark.parametrize("make", [tbx_writer, torch_writer], ids=["tensorboardX", "torch"])
def test_every_kind_from_real_writers(tmp_path: Path, make: Any) -> None:
    write_all(make(), tmp_path)
    files = event_files(tmp_path)
    assert len(files) == 2  # the run's file and add_hparams' own sub-run
    main = next(f for f in files if f.parent == tmp_path)
    r = read_events(main)
    assert not r.damage and not r.torn
    by_kind: dict[str, list[Any]] = {}
    for it in r.items:
        by_kind.setdefault(it.kind, []).append(it)
    scalars = [(it.step, it.tag, it.value) for it in by_kind["scalar"]]
    assert scalars == [(s, "train/loss", float(np.float32(1.0 / (s + 1)))) for s in range(5)]
    assert [(it.step, it.tag, it.value) for it in by_kind["text"]] == [(2, "notes",
                                                                         "hello *world*")]
    (image,) = by_kind["image"]
    assert (image.step, image.value["width"], image.value["height"]) == (3, 6, 4)
    assert image.value["png"].startswith(b"\x89PNG")
    (hist,) = by_kind["histogram"]
    assert hist.step == 4 and sum(hist.value["counts"]) == 4
    assert len(hist.value["bins"]) == len(hist.value["counts"]) + 1
    assert hist.value["bins"][0] == 0.5 and hist.value["bins"][-1] == 2.5
    assert all(it.wall_time > 1e9 for it in r.items)
    hp = read_events(next(f for f in files if f.parent != tmp_path))
    (params,) = [it for it in hp.items if it.kind == "hparams"]
    assert params.value == {"lr": 0.01, "opt": "adam", "layers": 3}
    assert [(it.tag, it.value) for it in hp.items if it.kind == "scalar"] == [("hparam/acc",
                                                                             0.75)]


def test_tensor_encoded_scalars(tmp_path: Path) -> None:
    """torch's new_style scalars are one-element float tensors, as TF2 writes them."""
    w = torch_writer()(str(tmp_path))
    w.add_scalar("a", 2.5, 7, new_style=True)
    w.add_scalar("b", 3, 8, new_style=True, double_precision=True)
    w.close()
    (f,) = event_files(tmp_path)
    got = [(it.step, it.tag, it.kind, it.value) for it in read_events(f).items]
    assert got == [(7, "a", "scalar", 2.5), (8, "b", "scalar", 3.0)]


def test_torn_tail_then_completed(tmp_path: Path) -> None:
    write_scalars(tmp_path, 10)
    (f,) = event_files(tmp_path)
    whole = f.read_bytes()
    cut = tmp_path / "cut.tfevents"
    cut.write_bytes(whole[:-7])  # the last record torn mid-data
    first = read_events(cut)
    assert first.torn and not first.damage
    assert [it.step for it in first.items] == list(range(9))
    cut.write_bytes(whole)  # the writer finished it
    rest = read_events(cut, first.offset)
    assert [it.step for it in rest.items] == [9] and not rest.torn
    assert rest.offset == len(whole)
    assert read_events(cut, rest.offset).items == []


def test_a_damaged_record_costs_that_record(tmp_path: Path) -> None:
    write_scalars(tmp_path, 10)
    (f,) = event_files(tmp_path)
    data = bytearray(f.read_bytes())
    starts = [at for at, _ in read_records(f).records]
    data[starts[5] + HEADER + 2] ^= 0x40  # a bit in record 5's data (step 4)
    data[starts[8] + 3] ^= 0x01  # a bit in record 8's length (step 7)
    f.write_bytes(bytes(data))
    r = read_events(f)
    assert [it.step for it in r.items] == [0, 1, 2, 3, 5, 6, 8, 9]
    assert [d.offset for d in r.damage] == [starts[5], starts[8]]
    assert not r.torn


def test_zero_tail_is_torn_not_damage(tmp_path: Path) -> None:
    f = tmp_path / "events.out.tfevents.1"
    f.write_bytes(frame(b"") + b"\0" * 40)
    r = read_records(f)
    assert len(r.records) == 1 and r.torn and not r.damage and r.offset == 16


def test_read_as_it_grows(tmp_path: Path) -> None:
    w = tbx_writer()(str(tmp_path), flush_secs=3600)
    seen: list[int] = []
    offset = 0
    (f,) = event_files(tmp_path)
    for step in range(30):
        w.add_scalar("x", float(step), step)
        if step % 7 == 6:
            w.flush()
            r = read_events(f, offset)
            seen += [it.step for it in r.items]
            offset = r.offset
    w.close()
    seen += [it.step for it in read_events(f, offset).items]
    assert seen == list(range(30))


def test_tensorflow2_layout(tmp_path: Path) -> None:
    """What TF2's tf.summary writes, made with tensorboard's own metadata and tensor
    helpers and written by its EventFileWriter (TensorFlow itself is not installed)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.histogram import metadata as hist_meta
    from tensorboard.plugins.image import metadata as image_meta
    from tensorboard.plugins.scalar import metadata as scalar_meta
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util.tensor_util import make_tensor_proto

    png = frame(b"not really a png")  # bytes are bytes to the reader
    values = [
        ("loss", scalar_meta.create_summary_metadata("loss", ""),
         make_tensor_proto(np.float32(0.25))),
        ("img", image_meta.create_summary_metadata("img", ""),
         make_tensor_proto(np.array([b"6", b"4", png], dtype=object))),
        ("h", hist_meta.create_summary_metadata("h", ""),
         make_tensor_proto(np.array([[0.0, 1.0, 2.0], [1.0, 3.0, 5.0]]))),
    ]
    w = EventFileWriter(str(tmp_path))
    for step, (tag, meta, tensor) in enumerate(values):
        w.add_event(Event(wall_time=1.7e9 + step, step=10 + step, summary=Summary(
            value=[Summary.Value(tag=tag, metadata=meta, tensor=tensor)])))
    w.close()
    (f,) = event_files(tmp_path)
    got = read_events(f).items
    assert [(it.step, it.wall_time, it.tag, it.kind) for it in got] == [
        (10, 1.7e9, "loss", "scalar"), (11, 1.7e9 + 1, "img", "image"),
        (12, 1.7e9 + 2, "h", "histogram")]
    assert got[0].value == 0.25
    assert got[1].value == {"png": png, "width": 6, "height": 4}
    assert got[2].value == {"bins": [0.0, 1.0, 3.0], "counts": [2, 5]}
