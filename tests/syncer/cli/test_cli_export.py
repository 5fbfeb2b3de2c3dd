"""`runwal export --tensorboard`: read back by an independent reader and by tensorboardX."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runbuilder import T0, build_run
from schema.records import RecordType
from schema.tfrecord import crc32c, masked_crc
from syncer.cli import main
from syncer.inspect.tensorboard import encode_event, export_run

# -- an independent reader: bitwise CRC-32C, hand-rolled protobuf decoding ----------


def crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        (len_crc,) = struct.unpack_from("<I", data, pos + 8)
        assert len_crc == mask(crc32c_bitwise(data[pos : pos + 8]))
        body = data[pos + 12 : pos + 12 + n]
        (body_crc,) = struct.unpack_from("<I", data, pos + 12 + n)
        assert body_crc == mask(crc32c_bitwise(body))
        out.append(body)
        pos += 16 + n
    assert pos == len(data)
    return out


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def fields(buf: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        elif wire == 2:
            n, pos = varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        else:
            raise AssertionError(f"wire type {wire}")
        out.append((num, val))
    return out


def decode_event(buf: bytes) -> dict[str, Any]:
    ev: dict[str, Any] = {"step": 0, "values": {}}
    for num, val in fields(buf):
        if num == 1:
            ev["wall_time"] = struct.unpack("<d", val)[0]
        elif num == 2:
            ev["step"] = val - (1 << 64) if val >= 1 << 63 else val
        elif num == 3:
            ev["file_version"] = val.decode()
        elif num == 5:
            for vnum, value in fields(val):
                assert vnum == 1
                parts = dict(fields(value))
                ev["values"][parts[1].decode()] = struct.unpack("<f", parts[2])[0]
    return ev


# -- tests ---------------------------------------------------------------------------

RECS = [
    (RecordType.CONFIG, T0, {"lr": 0.1}),
    (RecordType.HISTORY, T0 + 1.25, {"step": 0, "data": {"loss": 2.5, "ok": True, "tag": "x"}}),
    (RecordType.HISTORY, T0 + 2.5, {"step": 7, "data": {"loss": 1.5, "none": None, "n": 3}}),
    (RecordType.HISTORY, T0 + 3, {"step": 8, "data": {"text": "only strings"}}),
    (RecordType.HISTORY, T0 + 4, {"step": 300, "data": {"big": 1e300, "nan": float("nan")}}),
    (RecordType.EXIT, T0 + 5, {"code": 0, "status": "finished", "runtime": 5.0}),
]


def export(tmp_path: Path, recs: list = RECS) -> Path:
    run = build_run(tmp_path, recs, created=T0)
    out = tmp_path / "tb"
    res = CliRunner().invoke(main, ["export", str(run), "--tensorboard", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 3 events, 6 scalars" in res.stdout
    assert "3 non-numeric values skipped" in res.stderr
    (path,) = out.iterdir()
    assert path.name.startswith(f"events.out.tfevents.{int(T0)}.")
    assert path.name.endswith(".runwal")
    return path


def test_crc32c_known_vectors() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    blob = bytes(range(256)) * 3
    assert crc32c(blob) == crc32c_bitwise(blob)
    assert masked_crc(blob) == mask(crc32c_bitwise(blob))


def test_export_decodes_with_independent_reader(tmp_path: Path) -> None:
    events = [decode_event(r) for r in read_records(export(tmp_path).read_bytes())]
    assert events[0] == {"step": 0, "values": {}, "wall_time": T0,
                         "file_version": "brain.Event:2"}
    assert [(e["step"], e["wall_time"]) for e in events[1:]] == [
        (0, T0 + 1.25), (7, T0 + 2.5), (300, T0 + 4)]
    assert events[1]["values"] == {"loss": 2.5, "ok": 1.0}
    assert events[2]["values"] == {"loss": 1.5, "n": 3.0}
    assert events[3]["values"]["big"] == math.inf  # beyond float32, as TensorBoard casts
    assert math.isnan(events[3]["values"]["nan"])


def test_export_again_replaces_the_file(tmp_path: Path) -> None:
    first = export(tmp_path).read_bytes()
    res = CliRunner().invoke(main, ["export", str(tmp_path / "abc12345"),
                                    "--tensorboard", str(tmp_path / "tb")])
    assert res.exit_code == 0
    (path,) = (tmp_path / "tb").iterdir()
    assert path.read_bytes() == first


def test_export_to_a_file_is_usage_error(tmp_path: Path) -> None:
    run = build_run(tmp_path, RECS)
    (tmp_path / "f").write_text("")
    res = CliRunner().invoke(main, ["export", str(run), "--tensorboard", str(tmp_path / "f")])
    assert res.exit_code == 2
    assert res.stderr.startswith("runwal: error: ") and "not a directory" in res.stderr


def test_negative_and_large_steps_encode_as_int64(tmp_path: Path) -> None:
    for step in (-5, 2**40, 2**63 - 1):
        ev = decode_event(encode_event(1.5, step=step, scalars=[("a", 1.0)]))
        assert ev["step"] == step


def test_cross_check_with_tensorboardx(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2, summary_pb2
    from tensorboardX.record_writer import masked_crc32c

    data = export(tmp_path).read_bytes()
    pos, parsed = 0, []
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        assert struct.unpack_from("<I", data, pos + 8)[0] == masked_crc32c(data[pos : pos + 8])
        body = data[pos + 12 : pos + 12 + n]
        assert struct.unpack_from("<I", data, pos + 12 + n)[0] == masked_crc32c(body)
        ev = event_pb2.Event.FromString(body)
        # Byte-for-byte what protobuf itself serializes for the same message.
        assert ev.SerializeToString() == body
        parsed.append(ev)
        pos += 16 + n
    assert parsed[0].file_version == "brain.Event:2"
    assert [e.step for e in parsed[1:]] == [0, 7, 300]
    assert {v.tag: v.simple_value for v in parsed[2].summary.value} == {"loss": 1.5, "n": 3.0}
    want = event_pb2.Event(wall_time=9.5, step=-3, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="é/x", simple_value=0.0)]))
    assert encode_event(9.5, step=-3, scalars=[("é/x", 0.0)]) == want.SerializeToString()


def test_export_api_counts(tmp_path: Path) -> None:
    run = build_run(tmp_path, RECS)
    res = export_run(run, tmp_path / "out", hostname="h")
    assert res.path.name == f"events.out.tfevents.{int(T0)}.h.runwal"
    assert (res.events, res.scalars, res.skipped, res.damaged) == (3, 6, 3, 0)
    assert res.tags == {"loss", "ok", "n", "big", "nan"}
