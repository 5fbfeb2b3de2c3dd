"""Media and artifact records offline: `show`, `verify`, `dump` and `export --tensorboard`."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbuilder import (
    T0,
    artifact_entry,
    artifact_record,
    build_run,
    image_item,
    media_item,
    media_record,
    png_bytes,
    wav_bytes,
)
from schema.records import RecordType as R
from syncer.cli import main
from syncer.inspect.tensorboard import export_run


def invoke(*args: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, res.stdout, res.stderr


def media_run(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "med00001"
    items: dict[str, dict[str, object]] = {
        "a": image_item(root, 4, 3, (10, 20, 30)),
        "b": image_item(root, 5, 2, (40, 50, 60)),
        "c": image_item(root, 6, 6, (70, 80, 90)),
        "wav": media_item(root, "audio", wav_bytes(), "wav", format="wav", sample_rate=8000),
        "html": media_item(root, "html", b"<b>bold</b>", "html", format="html"),
        "table": media_item(root, "table", json.dumps(
            {"columns": ["x", "y"], "data": [[1, "one"], [2, "two"]]}).encode(), "json",
            format="json", rows=2, columns=2),
    }
    art = artifact_entry(root, "w.bin", b"\x00" * 10)
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "samples", 0, "image", [items["a"]]),
        media_record(T0 + 2, "samples", 1, "image", [items["b"], items["c"]]),
        media_record(T0 + 3, "sound", 1, "audio", [items["wav"]]),
        media_record(T0 + 4, "page", 2, "html", [items["html"]]),
        media_record(T0 + 5, "preds", 2, "table", [items["table"]]),
        media_record(T0 + 6, "w", 3, "histogram",
                     [{"bins": [0.0, 1.0, 2.0], "counts": [1, 3]}]),
        artifact_record(T0 + 7, "model", 0, [art], aliases=["latest"]),
        (R.ARTIFACT_USE, T0 + 8, {"name": "data", "type": "dataset", "version": 4,
                                  "digest": "cd" * 32, "source_run": "src00001",
                                  "asked": "data:latest"}),
        (R.EXIT, T0 + 9, {"code": 0, "status": "finished", "runtime": 9.0}),
    ], run_id="med00001")
    return rd, items


def test_show_lists_media_keys_and_artifacts(tmp_path: Path) -> None:
    rd, items = media_run(tmp_path)
    (rd / "files" / str(items["wav"]["file"])).unlink()
    code, out, err = invoke("show", rd)
    assert code == 0, err
    lines = out.splitlines()
    start = lines.index("media (5 keys)")
    head = lines[start + 1].split()
    assert head == ["KEY", "KIND", "RECORDS", "ITEMS", "LAST", "STEP", "LAST", "FILE"]
    rows = {ln.split()[0]: ln.split() for ln in lines[start + 2 : start + 7]}
    assert rows["samples"][:6] == ["samples", "image", "2", "3", "1", str(items["c"]["file"])]
    assert rows["w"][:5] == ["w", "histogram", "1", "1", "3"] and rows["w"][5] == "-"
    assert rows["sound"][5:] == [str(items["wav"]["file"]), "[missing", "from", "files/]"]
    assert "artifacts (1 logged, 1 used)" in lines
    art = lines[lines.index("artifacts (1 logged, 1 used)") + 2].split()
    assert art[:4] == ["logged", "model:v0", "dataset", "1"] and art[-1] == "latest"
    used = lines[lines.index("artifacts (1 logged, 1 used)") + 3]
    assert "data:v4" in used and "from run src00001" in used and "asked data:latest" in used

    code, out, _ = invoke("show", rd, "--json")
    view = json.loads(out)
    assert view["media"]["samples"] == {"kind": "image", "records": 2, "items": 3,
                                        "last_step": 1, "last_file": items["c"]["file"]}
    assert view["artifacts"][0]["name"] == "model" and view["artifacts"][0]["size"] == 10
    assert view["artifact_uses"][0]["source_run"] == "src00001"
    assert view["counts"]["by_type"]["media"] == 6


def test_verify_notes_missing_and_changed_media_files(tmp_path: Path) -> None:
    rd, items = media_run(tmp_path)
    (rd / "files" / str(items["a"]["file"])).unlink()
    changed = rd / "files" / str(items["b"]["file"])
    changed.write_bytes(changed.read_bytes()[:-1] + b"\xff")  # same size, other bytes
    code, out, err = invoke("verify", rd)
    assert code == 0, err  # the log is intact: notes, not damage
    notes = [ln for ln in out.splitlines() if ln.startswith("note: ")]
    assert notes == [
        f"note: seq 1: media file: missing on disk: files/{items['a']['file']}",
        f"note: seq 2: media file: files/{items['b']['file']} has sha256 "
        f"{_sha(rd, items['b'])[:12]}…, the record says {str(items['b']['sha256'])[:12]}…",
    ]
    code, out, _ = invoke("verify", rd, "--json")
    assert json.loads(out)["file_problems"] == 2


def _sha(rd: Path, item: dict[str, object]) -> str:
    import hashlib

    return hashlib.sha256((rd / "files" / str(item["file"])).read_bytes()).hexdigest()


def test_dump_prints_media_and_artifact_records(tmp_path: Path) -> None:
    rd, items = media_run(tmp_path)
    code, out, _ = invoke("dump", rd, "--type", "media,artifact,artifact_use")
    assert code == 0
    lines = [json.loads(ln) for ln in out.splitlines()]
    assert [ln["type"] for ln in lines] == ["media"] * 6 + ["artifact", "artifact_use"]
    assert lines[0] == {"seq": 1, "type": "media", "ts": T0 + 1, "key": "samples", "step": 0,
                        "kind": "image", "items": [items["a"]]}
    assert lines[5]["items"] == [{"bins": [0.0, 1.0, 2.0], "counts": [1, 3]}]
    assert lines[6]["name"] == "model" and lines[6]["entries"][0]["path"] == "w.bin"
    assert lines[6]["artifact_type"] == "dataset" and lines[6]["version"] == 0
    assert lines[7]["source_run"] == "src00001" and lines[7]["artifact_type"] == "dataset"


def test_export_writes_images_audio_histograms_and_text(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2

    rd, items = media_run(tmp_path)
    res = export_run(rd, tmp_path / "tb", hostname="h")
    assert dict(res.media) == {"image": 3, "audio": 1, "html": 1, "table": 1, "histogram": 1}
    assert res.media_skipped == 0
    data = res.path.read_bytes()
    events = []
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        body = data[pos + 12 : pos + 12 + n]
        ev = event_pb2.Event.FromString(body)
        assert ev.SerializeToString() == body  # byte for byte what protobuf writes
        events.append(ev)
        pos += 16 + n
    values = {(ev.step, v.tag): v for ev in events[1:] for v in ev.summary.value}
    assert set(values) == {(0, "samples"), (1, "samples/0"), (1, "samples/1"), (1, "sound"),
                           (2, "page"), (2, "preds"), (3, "w")}
    img = values[(0, "samples")].image
    assert (img.width, img.height, img.colorspace) == (4, 3, 3)
    assert img.encoded_image_string == png_bytes(4, 3, (10, 20, 30))
    audio = values[(1, "sound")].audio
    assert (audio.sample_rate, audio.num_channels, audio.length_frames) == (8000.0, 1, 400)
    assert audio.encoded_audio_string == wav_bytes() and audio.content_type == "audio/wav"
    histo = values[(3, "w")].histo
    assert (histo.min, histo.max, histo.num) == (0.0, 2.0, 4.0)
    assert list(histo.bucket_limit) == [1.0, 2.0] and list(histo.bucket) == [1.0, 3.0]
    assert histo.sum == 0.5 + 3 * 1.5
    page = values[(2, "page")]
    assert page.metadata.plugin_data.plugin_name == "text"
    assert list(page.tensor.string_val) == [b"<b>bold</b>"]
    table = values[(2, "preds")].tensor
    assert [d.size for d in table.tensor_shape.dim] == [3, 2]
    assert list(table.string_val) == [b"x", b"y", b"1", b"one", b"2", b"two"]

    (rd / "files" / str(items["wav"]["file"])).unlink()
    code, out, err = invoke("export", rd, "--tensorboard", tmp_path / "tb2")
    assert code == 0
    assert "3 image" in out and "1 histogram" in out and "0 audio" not in out
    assert "1 media items skipped" in err and "missing on disk" in err


def test_a_media_record_with_an_error_is_noted_and_odd_formats_are_handled(
        tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import event_pb2

    root = tmp_path / "err00001"
    jpg = media_item(root, "image", b"\xff\xd8\xff\xe0not-really-a-jpeg", "jpg", format="jpg",
                     width=7, height=5)
    mp3 = media_item(root, "audio", b"ID3...", "mp3", format="mp3", sample_rate=None)
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        (R.MEDIA, T0 + 1, {"key": "img", "step": 0, "kind": "image", "items": [jpg],
                           "error": "OSError: [Errno 28] No space left on device"}),
        media_record(T0 + 2, "song", 0, "audio", [mp3]),
        (R.EXIT, T0 + 9, {"code": 0, "status": "finished", "runtime": 9.0}),
    ], run_id="err00001")
    want = ("seq 1: media img: the SDK could not store every file: OSError: [Errno 28] No "
            "space left on device")
    code, out, _ = invoke("verify", rd)
    assert code == 0 and f"note: {want}" in out.splitlines()
    code, out, _ = invoke("show", rd, "--json")
    assert want in json.loads(out)["notes"]
    res = export_run(rd, tmp_path / "tb", hostname="h")
    assert dict(res.media) == {"image": 1} and res.media_skipped == 1  # no MP3 in TensorBoard
    data = res.path.read_bytes()
    (n,) = struct.unpack_from("<Q", data, 0)
    pos = 16 + n
    (n,) = struct.unpack_from("<Q", data, pos)
    img = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + n]).summary.value[0].image
    assert (img.width, img.height, img.colorspace) == (7, 5, 3)
    assert img.encoded_image_string.startswith(b"\xff\xd8")


@pytest.mark.parametrize("rate", [1e300, -1e39])
def test_export_survives_a_forged_audio_rate(tmp_path: Path, rate: float) -> None:
    """A "wav" that is no WAV carries the record's rate; one beyond float32 is
    clamped to inf (as a float32 cast gives), never an OverflowError that stops the export."""
    root = tmp_path / "aud00001"
    fake = media_item(root, "audio", b"RIFF-not-really", "wav", format="wav", sample_rate=rate)
    rd = build_run(tmp_path, [
        (R.RUN, T0, {"host": "h"}),
        media_record(T0 + 1, "song", 0, "audio", [fake]),
        (R.EXIT, T0 + 9, {"code": 0, "status": "finished", "runtime": 9.0}),
    ], run_id="aud00001")
    code, _, err = invoke("export", rd, "--tensorboard", tmp_path / "tb")
    assert code == 0, err
    assert dict(export_run(rd, tmp_path / "tb2", hostname="h").media) == {"audio": 1}
