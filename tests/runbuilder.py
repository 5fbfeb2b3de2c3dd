"""Build run directories byte by byte with the schema API, without the SDK.

The one run builder of the test suite. Tests of readers (the CLI, the syncer)
need exact control over what is on disk: which records, how they are split
into frames and segments, a missing run.json. `build_run` writes such a run,
`append_segment` adds a segment to it (a resumed process, a live run growing),
`encode_segment` gives a segment's bytes without a file; `write_run` is
`build_run` with the sync tests' defaults. `frame_offsets` tells a damage
test where each frame starts.

    path = build_run(tmp_path, [
        (RecordType.RUN, 1.0, {"host": "h"}),
        (RecordType.HISTORY, 2.0, {"step": 0, "data": {"loss": 1.5}}),
        (RecordType.EXIT, 3.0, {"code": 0, "status": "finished", "runtime": 2.0}),
    ])
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schema.frame import encode_frame, split_frames
from schema.reader import Frame, iter_run_log
from schema.records import RecordType, pack_record
from schema.segment import FORMAT_VERSION, SegmentHeader, segment_name

RecordSpec = tuple[int, float, Any]  # (type, ts, body)

T0 = 1_700_000_000.0


def encode_segment(
    records: Sequence[RecordSpec],
    base_seq: int = 0,
    *,
    salt: int | None = None,
    records_per_frame: int | None = None,
    compress: bool = True,
) -> bytes:
    """Header plus frames for ``records``, first seq ``base_seq``.

    ``records_per_frame`` forces small frames (damage tests want many);
    by default frames are grouped the way the writer does (~64 KiB).
    """
    header = SegmentHeader.new(base_seq, salt=salt)
    packed = [pack_record(int(t), float(ts), body) for t, ts, body in records]
    if records_per_frame is None:
        frames = list(split_frames(packed, base_seq, header.seed, compress=compress))
    else:
        frames = [
            encode_frame(packed[i : i + records_per_frame], base_seq + i, header.seed,
                         compress=compress)
            for i in range(0, len(packed), records_per_frame)
        ]
    return header.encode() + b"".join(frames)


def build_run(
    tmp_path: Path,
    records: Sequence[RecordSpec] = (),
    *,
    run_id: str = "abc12345",
    project: str | None = "proj",
    name: str | None = "test-run",
    created: float | None = T0,
    write_run_json: bool = True,
    segment_starts: Sequence[int] = (),
    base_seq: int = 0,
    records_per_frame: int | None = None,
    compress: bool = True,
) -> Path:
    """Write ``tmp_path/run_id`` holding ``records`` and return its path.

    ``segment_starts`` lists record indices where a new segment begins (seqs
    stay dense across segments), e.g. ``[5]`` puts records 0-4 in the first
    segment and the rest in a second one. The first record has seq
    ``base_seq``. An existing run.json is left as it is.
    """
    root = tmp_path / run_id
    (root / "log").mkdir(parents=True, exist_ok=True)
    (root / "files").mkdir(exist_ok=True)
    if write_run_json and not (root / "run.json").exists():
        ident = {"run_id": run_id, "project": project, "name": name, "created": created,
                 "format": FORMAT_VERSION}
        (root / "run.json").write_text(json.dumps(ident))
    bounds = [0, *sorted(segment_starts), len(records)]
    for start, end in itertools.pairwise(bounds):
        if start == end and records:
            continue
        append_segment(root, records[start:end], base_seq=base_seq + start,
                       records_per_frame=records_per_frame, compress=compress)
    return root


def append_segment(
    run: Path,
    records: Sequence[RecordSpec],
    *,
    base_seq: int,
    salt: int | None = None,
    records_per_frame: int | None = None,
    compress: bool = True,
) -> Path:
    """Write one more segment of ``run``, first seq ``base_seq``; its path."""
    path = run / "log" / segment_name(base_seq)
    path.write_bytes(encode_segment(records, base_seq, salt=salt,
                                    records_per_frame=records_per_frame, compress=compress))
    return path


def write_run(
    root: Path,
    run_id: str,
    records: Sequence[RecordSpec],
    *,
    project: str | None = None,
    name: str | None = None,
    base_seq: int = 0,
) -> Path:
    """`build_run` as the sync tests call it: one segment, no project, named ``run_id``."""
    return build_run(root, records, run_id=run_id, project=project, name=name or run_id,
                     base_seq=base_seq)


def frame_offsets(run: Path) -> list[tuple[str, int, int]]:
    """(segment name, offset, size) of every readable frame of ``run``."""
    return [
        (ev.segment, ev.offset, ev.size)
        for ev in iter_run_log(run / "log")
        if isinstance(ev, Frame)
    ]


def segment_path(run: Path, index: int = 0) -> Path:
    return sorted((run / "log").glob("*.seg"))[index]


def typical_records(steps: int = 10, t0: float = T0) -> list[RecordSpec]:
    """A small finished run: metadata, config, history, summary, console, exit."""
    recs: list[RecordSpec] = [
        (RecordType.RUN, t0, {
            "host": "node1", "user": "ada", "pid": 42, "python": "3.11.9",
            "argv": ["train.py", "--lr", "0.1"], "cwd": "/home/ada",
            "git": {"commit": "deadbeef", "branch": "main", "remote": "git@x:y.git",
                    "dirty": False},
            "mode": "offline", "tags": ["baseline"], "notes": "first try", "group": None,
            "job_type": "train", "project": "proj", "name": "test-run", "run_id": "abc12345",
        }),
        (RecordType.CONFIG, t0 + 0.1, {"lr": 0.1, "batch": 32}),
        (RecordType.METRIC_DEF, t0 + 0.2, {"name": "acc", "step_metric": None,
                                           "summary": "max", "hidden": False}),
    ]
    for i in range(steps):
        recs.append((RecordType.HISTORY, t0 + 1 + i,
                     {"step": i, "data": {"loss": 1.0 / (i + 1), "acc": i / steps,
                                          "phase": "train", "ok": True}}))
    recs += [
        (RecordType.CONSOLE, t0 + 1.5, {"stream": "stdout", "text": "epoch 1\nepoch 2\n"}),
        (RecordType.CONSOLE, t0 + 1.6, {"stream": "stderr", "text": "warning"}),
        (RecordType.STATS, t0 + 2, {"system/cpu_utilization_percentage": 50.0}),
        (RecordType.FILE, t0 + 3, {"path": "model.pt", "size": 4, "sha256": "ab" * 32,
                                   "policy": "now"}),
        (RecordType.ALERT, t0 + 4, {"title": "slow", "text": "loss plateau", "level": "WARN"}),
        (RecordType.CONFIG, t0 + 5, {"batch": 64}),
        (RecordType.SUMMARY, t0 + steps + 1, {"best_acc": 0.9}),
        (RecordType.EXIT, t0 + steps + 2, {"code": 0, "status": "finished",
                                           "runtime": steps + 2.0}),
    ]
    return recs


# -- media and artifact files (docs/FORMAT.md, "Media and artifacts") ---------------


def png_bytes(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid RGB PNG of one colour, made with zlib (no Pillow needed)."""
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def wav_bytes(frames: int = 400, rate: int = 8000) -> bytes:
    """A valid mono 16-bit WAV of ``frames`` frames, made with the stdlib's wave."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x02" * frames)
    return buf.getvalue()


def put_file(run: Path, rel: str, data: bytes) -> dict[str, Any]:
    """Write ``files/<rel>``; ``{"file", "size", "sha256"}`` as a record names it."""
    import hashlib

    path = run / "files" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"file": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def media_item(run: Path, kind: str, data: bytes, ext: str, **meta: Any) -> dict[str, Any]:
    """Store ``data`` content-addressed as ``files/media/<kind>/<sha256>.<ext>`` (what
    the SDK does) and return the media item naming it, with ``meta`` added."""
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    return {**put_file(run, f"media/{kind}/{sha}.{ext}", data), **meta}


def image_item(run: Path, width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30),
               caption: str | None = None) -> dict[str, Any]:
    return media_item(run, "image", png_bytes(width, height, rgb), "png", width=width,
                      height=height, format="png", caption=caption)


def media_record(ts: float, key: str, step: int, kind: str, items: list[dict[str, Any]]
                 ) -> RecordSpec:
    return (RecordType.MEDIA, ts, {"key": key, "step": step, "kind": kind, "items": items})


def artifact_entry(run: Path, path: str, data: bytes) -> dict[str, Any]:
    """An artifact entry whose bytes are in ``files/artifacts/<sha256>``."""
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    return {"path": path, **put_file(run, f"artifacts/{sha}", data)}


def artifact_record(ts: float, name: str, version: int, entries: list[dict[str, Any]],
                    **fields: Any) -> RecordSpec:
    """An ``artifact`` record; ``digest`` computed as FORMAT.md says."""
    import hashlib

    lines = sorted(f"{e['path']}:{e.get('sha256') or e.get('ref')}" for e in entries)
    body = {"name": name, "type": "dataset", "version": version,
            "digest": hashlib.sha256("\n".join(lines).encode()).hexdigest(), "aliases": [],
            "description": None, "metadata": {}, "entries": entries, **fields}
    return (RecordType.ARTIFACT, ts, body)
