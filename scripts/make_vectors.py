#!/usr/bin/env python3
"""Write runwal's conformance vectors into tests/vectors/ (see docs/FORMAT.md, "Conformance").

Each vector is a segment file ``NAME.seg`` and ``NAME.json`` saying what a
reader must make of it: the header fields (or why the header is rejected) and
the events in file order -- frames with their records, ``corrupt`` regions
with the seqs lost, ``incomplete`` torn tails -- and the `runwal verify`
verdict. A *log* vector is several such segments, ``NAME.<i>.seg``, to be put
into one ``log/`` directory under the segment names ``NAME.json`` gives, with
the events of the whole log (each naming its segment), the records known lost
and the verdict: it pins what a reader does between segments (a missing
segment, an unreadable header, each lost seq reported once). ``index.json``
lists them all, segment vectors under ``vectors``, log vectors under ``logs``.

The bytes are built here from the spec alone (struct, zlib, msgpack), not with
src/schema, and the expected events are worked out from what was written and
which bytes were damaged, not by running the reader: the vectors are a second
implementation checking the first. Everything is fixed (salt, timestamps), so
the output is byte-for-byte reproducible; tests/schema/test_schema_vectors.py
regenerates it and fails if the committed files differ. The one compressed
payload is stored below as bytes (what zstd level 3 made of it once), because
another libzstd version may compress the same input differently.

    python scripts/make_vectors.py            # rewrite tests/vectors/
    python scripts/make_vectors.py --check    # exit 1 if tests/vectors/ is stale
    python scripts/make_vectors.py --out DIR  # write somewhere else

One file of ~1200 lines on purpose: it is the spec's second implementation and
every vector is a short function next to the encoder it uses; the test loads
it as one script, and a reader porting runwal reads it top to bottom.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors"

SALT = 0x0123456789ABCDEF
OTHER_SALT = 0x1122334455667788  # "an older segment's" salt (seed 0x44444444, not 0x88888888)
T0 = 1_700_000_000.0
MAX_FRAME = 8 * 1024 * 1024
FRAME_OVERHEAD = 23
RUN, CONFIG, HISTORY, SUMMARY, FILE, STATS, CONSOLE, METRIC_DEF, ALERT, EXIT, RESUME = range(1, 12)
MEDIA = 12

Rec = tuple[int, float, Any]  # (type, ts, body)

# -- encoding, from docs/FORMAT.md --------------------------------------------------


def crc(data: bytes, salt: int) -> int:
    """Salted CRC-32: zlib's CRC-32 continued from a seed folded out of the salt."""
    return zlib.crc32(data, (salt ^ (salt >> 32)) & 0xFFFFFFFF) & 0xFFFFFFFF


def segment_header(base_seq: int, salt: int = SALT, *, version: int = 1, flags: int = 1) -> bytes:
    head = struct.pack("<4sHHQQI", b"RWAL", version, flags, salt, base_seq, 0)
    return head + struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF)


def frame_bytes(payload: bytes, *, count: int, base_seq: int, salt: int = SALT, flags: int = 0,
                length: int | None = None) -> bytes:
    head = struct.pack("<IBHQ", len(payload) if length is None else length, flags, count,
                       base_seq)
    return head + struct.pack("<I", crc(head, salt)) + payload + struct.pack("<I",
                                                                            crc(payload, salt))


def pack(rec: Rec) -> bytes:
    return msgpack.packb(list(rec), use_bin_type=True)


# -- JSON for expected values ------------------------------------------------------


def to_json(value: Any) -> Any:
    """A msgpack value as JSON, losslessly (docs/FORMAT.md, "Conformance").

    ints, strs, bools, None and arrays as themselves; finite floats as JSON
    numbers (always with "." or "e", so never confused with ints); NaN, +-inf
    and -0.0 as {"$float": "nan"|"inf"|"-inf"|"-0.0"}; bin as {"$bytes": hex};
    ext as {"$ext": [code, hex of its data]}; a map as an object, or as
    {"$map": [[k, v], ...]} when a key is not a str
    (or the object would look like one of these tags).
    """
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "nan"}
        if math.isinf(value):
            return {"$float": "inf" if value > 0 else "-inf"}
        if value == 0.0 and math.copysign(1.0, value) < 0:
            return {"$float": "-0.0"}
        return value
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, msgpack.ExtType):  # a tuple: before the array case
        return {"$ext": [value.code, value.data.hex()]}
    if isinstance(value, msgpack.Timestamp):  # ext -1, as a msgpack library decodes it
        return {"$ext": [-1, value.to_bytes().hex()]}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)).startswith("$"))
        if plain:
            return {k: to_json(v) for k, v in value.items()}
        return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    return value


def from_json(value: Any) -> Any:
    """Inverse of `to_json`."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, inner),) = value.items()
            if tag == "$float":
                return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0.0": -0.0}[inner]
            if tag == "$bytes":
                return bytes.fromhex(inner)
            if tag == "$ext":
                code, data = inner[0], bytes.fromhex(inner[1])
                return msgpack.Timestamp.from_bytes(data) if code == -1 else msgpack.ExtType(
                    code, data)
            if tag == "$map":
                return {_hashable(from_json(k)): from_json(v) for k, v in inner}
        return {k: from_json(v) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


# -- building segments and what a reader must see ------------------------------------


class Seg:
    """A segment under construction and the events a reader must report for it."""

    def __init__(self, base_seq: int = 0, salt: int = SALT) -> None:
        self.base_seq, self.salt = base_seq, salt
        self.data = bytearray(segment_header(base_seq, salt))
        self.events: list[dict[str, Any]] = []
        self.next_seq = base_seq

    def frame(self, recs: list[Rec], *, payload: bytes | None = None, flags: int = 0,
              salt: int | None = None) -> dict[str, Any]:
        """Append a frame of ``recs`` (``payload``: stored bytes other than their msgpack)."""
        stored = b"".join(pack(r) for r in recs) if payload is None else payload
        raw = frame_bytes(stored, count=len(recs), base_seq=self.next_seq, flags=flags,
                          salt=self.salt if salt is None else salt)
        event = frame_event(len(self.data), len(raw), flags, self.next_seq, recs)
        self.data += raw
        self.events.append(event)
        self.next_seq += len(recs)
        return event

    def raw(self, data: bytes) -> int:
        """Append bytes that are not a frame; returns their offset."""
        offset = len(self.data)
        self.data += data
        return offset

    def header_json(self) -> dict[str, Any]:
        return {"version": 1, "flags": 1, "salt": f"0x{self.salt:016x}",
                "base_seq": self.base_seq}


def frame_event(offset: int, size: int, flags: int, base_seq: int, recs: list[Rec],
                count: int | None = None, seqs: list[int] | None = None) -> dict[str, Any]:
    """A frame event; ``seqs`` are the seqs of ``recs`` when some of the frame's
    ``count`` records were malformed (and so are not listed)."""
    seqs = list(range(base_seq, base_seq + len(recs))) if seqs is None else seqs
    return {"event": "frame", "offset": offset, "size": size, "flags": flags,
            "base_seq": base_seq, "count": len(recs) if count is None else count,
            "records": [[seq, t, to_json(float(ts)), to_json(body)]  # ts reads as a double
                        for seq, (t, ts, body) in zip(seqs, recs, strict=True)]}


def corrupt(offset: int, skipped: int, first_lost: int, last_lost: int | None,
            last_known: int | None = None) -> dict[str, Any]:
    """``last_known``: for damage to the end (``last_lost`` None), the last seq of the
    damaged frame when its header still checks out."""
    return {"event": "corrupt", "offset": offset, "skipped": skipped, "first_lost": first_lost,
            "last_lost": last_lost, "last_known": last_known}


def incomplete(offset: int, available: int, first_seq: int | None = None,
               last_seq: int | None = None) -> dict[str, Any]:
    """A torn tail; ``first_seq..last_seq`` when the torn frame's header checks out."""
    return {"event": "incomplete", "offset": offset, "available": available,
            "first_seq": first_seq, "last_seq": last_seq}


def shifted(events: list[dict[str, Any]], delta: int) -> list[dict[str, Any]]:
    return [dict(e, offset=e["offset"] + delta) for e in events]


def history(step: int, ts: float, **data: Any) -> Rec:
    return (HISTORY, ts, {"step": step, "data": data})


# -- the vectors ---------------------------------------------------------------------

Vector = dict[str, Any]
VECTORS: list[Callable[[], Vector]] = []


def vector(fn: Callable[[], Vector]) -> Callable[[], Vector]:
    VECTORS.append(fn)
    return fn


def make(name: str, description: str, data: bytes | bytearray, events: list[dict[str, Any]],
         header: dict[str, Any] | None, *, canonical: bool = False) -> Vector:
    if header is None or "error" in header:
        verdict = "torn" if header is None else "damaged"
    elif any(e["event"] == "corrupt" for e in events):
        verdict = "damaged"
    else:
        verdict = "torn" if any(e["event"] == "incomplete" for e in events) else "clean"
    return {"name": name, "description": description, "file": f"{name}.seg",
            "canonical": canonical, "header": header, "events": events, "verify": verdict,
            "data": bytes(data)}


def multi() -> tuple[Seg, list[dict[str, Any]]]:
    """Four frames (1, 3, 2 and 1 records), first seq 1000: the base of most damage vectors."""
    seg = Seg(1000)
    f = [
        seg.frame([history(0, T0 + 1, loss=2.3026, lr=0.1)]),
        seg.frame([history(1, T0 + 2, loss=1.9, lr=0.1), history(2, T0 + 3, loss=1.4, lr=0.1),
                   (SUMMARY, T0 + 3.5, {"best_loss": 1.4})]),
        seg.frame([(CONSOLE, T0 + 4, {"stream": "stdout", "text": "epoch 1 done\n"}),
                   history(3, T0 + 5, loss=1.1, lr=0.05)]),
        seg.frame([(EXIT, T0 + 6, {"code": 0, "status": "finished", "runtime": 6.0})]),
    ]
    return seg, f


@vector
def empty() -> Vector:
    seg = Seg(0)
    return make("empty", "A segment header and no frames: a writer that just opened it.",
                seg.data, [], seg.header_json(), canonical=True)


@vector
def every_type() -> Vector:
    seg = Seg(0)
    seg.frame([
        (RUN, T0, {
            "run_id": "k3x9q2ab", "project": "mnist", "name": "baseline", "mode": "offline",
            "tags": ["cnn", "v1"], "notes": "first try", "group": None, "job_type": "train",
            "started": T0, "host": "node17", "user": "ada", "pid": 4242, "python": "3.11.9",
            "executable": "/usr/bin/python3", "argv": ["train.py", "--lr", "0.1"],
            "cwd": "/home/ada/mnist", "os": "Linux-6.8.0-x86_64-with-glibc2.39", "cpu_count": 32,
            "git": {"commit": "3f2a" * 10, "branch": "main",
                    "remote": "https://github.com/ada/mnist.git", "dirty": False}}),
        (CONFIG, T0 + 0.1, {"lr": 0.1, "batch_size": 64, "optimizer": {"name": "sgd",
                                                                       "momentum": 0.9}}),
        (METRIC_DEF, T0 + 0.2, {"name": "val/acc", "step_metric": "epoch", "summary": "max",
                                "hidden": False}),
        history(0, T0 + 1, **{"train/loss": 2.3026, "train/acc": 0.1, "epoch": 0}),
        (SUMMARY, T0 + 1.5, {"note": "set by hand"}),
        (FILE, T0 + 2, {"path": "checkpoints/model.pt", "size": 1048576,
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015"
                                  "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                        "policy": "now"}),
        (STATS, T0 + 3, {"cpu_utilization_percentage": 37.5,
                         "system_memory_usage_megabytes": 8123.4,
                         "gpu_0_utilization_percentage": 98.0}),
        (CONSOLE, T0 + 4, {"stream": "stderr", "text": "UserWarning: something\n"}),
        (ALERT, T0 + 5, {"title": "loss spike", "text": "loss went up 10x", "level": "WARN"}),
        (EXIT, T0 + 6, {"code": 0, "status": "finished", "runtime": 6.25}),
        (RESUME, T0 + 100, {"pid": 4343, "host": "node18", "step": 1, "base_seq": 10}),
    ])
    return make("every_type", "One record of each known type 1..11, bodies shaped as the SDK "
                "writes them, in one uncompressed frame.", seg.data, seg.events,
                seg.header_json(), canonical=True)


def media_file(kind: str, ext: str, digest: str, size: int) -> dict[str, Any]:
    return {"file": f"media/{kind}/{digest}.{ext}", "size": size, "sha256": digest}


@vector
def media_records() -> Vector:
    seg = Seg(0)
    png = "5f" * 32
    seg.frame([
        (MEDIA, T0, {"key": "samples", "step": 0, "kind": "image", "items": [
            {**media_file("image", "png", png, 1888), "width": 30, "height": 20,
             "format": "png", "caption": "a cat"},
            {**media_file("image", "png", png, 1888), "width": 30, "height": 20,
             "format": "png", "caption": None}]}),
        (MEDIA, T0, {"key": "weights", "step": 0, "kind": "histogram", "items": [
            {"bins": [0.0, 0.5, 1.0], "counts": [3, 30]}]}),
        history(0, T0, loss=0.5),
        (MEDIA, T0 + 1, {"key": "speech", "step": 1, "kind": "audio", "items": [
            {**media_file("audio", "wav", "a1" * 32, 1644), "sample_rate": 8000,
             "duration": 0.1, "format": "wav", "caption": None}]}),
        (MEDIA, T0 + 1, {"key": "rollout", "step": 1, "kind": "video", "items": [
            {**media_file("video", "gif", "b2" * 32, 421), "fps": 4, "format": "gif",
             "caption": None, "frames": 3, "width": 10, "height": 8}]}),
        (MEDIA, T0 + 1, {"key": "report", "step": 1, "kind": "html", "items": [
            {**media_file("html", "html", "c3" * 32, 9), "format": "html"}]}),
        (MEDIA, T0 + 1, {"key": "roc", "step": 1, "kind": "table", "items": [
            {**media_file("table", "json", "d4" * 32, 52), "format": "json", "rows": 2,
             "columns": ["x", "y"], "chart": {"type": "line", "title": "ROC", "x": "x",
                                              "y": "y"}}]}),
        (MEDIA, T0 + 2, {"key": "lost", "step": 2, "kind": "image", "items": [],
                         "error": "OSError: [Errno 28] No space left on device"}),
    ])
    return make("media_records", "media records of each kind as the SDK writes them (docs/"
                "FORMAT.md, 'Media and artifacts'): a gallery of two images sharing one "
                "file, a histogram and the history row of the same step, audio, video, "
                "html, a table with a chart spec, and a record whose files could not be "
                "stored.", seg.data, seg.events, seg.header_json(), canonical=True)


@vector
def value_kinds() -> Vector:
    seg = Seg(0)
    data = {
        "int/zero": 0, "int/fixint": 127, "int/uint8": 128, "int/uint16": 65535,
        "int/uint32": 4294967295, "int/uint64": 18446744073709551615, "int/neg_fixint": -32,
        "int/int8": -33, "int/int16": -32768, "int/int32": -2147483648,
        "int/int64_min": -9223372036854775808, "int/int64_max": 9223372036854775807,
        "float/half": 0.5, "float/one": 1.0, "float/neg_zero": -0.0, "float/nan": math.nan,
        "float/inf": math.inf, "float/ninf": -math.inf, "float/max": 1.7976931348623157e308,
        "float/min_subnormal": 5e-324, "float/big": 1e16,
        "bool/true": True, "bool/false": False, "none": None,
        "str/empty": "", "str/ascii": "train", "str/unicode": "h\u00e9llo \u2713 \u65e5\u672c "
        "\U0001f680", "str/str8": "x" * 40, "str/str16": "y" * 300,
        "list/empty": [], "list/mixed": [1, 2.5, "a", None, True, [1, [2]], {"k": "v"}],
    }
    seg.frame([
        (HISTORY, T0, {"step": 0, "data": data}),
        (CONFIG, T0 + 1, {"nested": {"a": {"b": [1, 2, {"c": None}]}}, "empty": {},
                          "$x": 1}),
        (SUMMARY, T0 + 2, {"$float": "not a tag: a real key"}),
    ])
    return make("value_kinds", "Every value kind a body may hold: ints of every msgpack "
                "width, NaN/inf/-0.0/subnormal floats, unicode, nesting; keys that look "
                "like the JSON tags.", seg.data, seg.events, seg.header_json(), canonical=True)


@vector
def msgpack_encodings() -> Vector:
    seg = Seg(0)
    # [3, 1.5, {"step": 1, "data": {"x": 0.25, "y": -1, "z": 7}}] in wider encodings than
    # a writer picks: array16, uint8 type, float32 ts, map16/map32, str8/str32, int64,
    # int16, uint64, float32.
    raw = (b"\xdc\x00\x03" + b"\xcc\x03" + b"\xca" + struct.pack(">f", 1.5)
           + b"\xde\x00\x02"
           + b"\xd9\x04step" + b"\xd3" + struct.pack(">q", 1)
           + b"\xdb\x00\x00\x00\x04data" + b"\xdf\x00\x00\x00\x03"
           + b"\xa1x" + b"\xca" + struct.pack(">f", 0.25)
           + b"\xa1y" + b"\xd1\xff\xff"
           + b"\xa1z" + b"\xcf" + struct.pack(">Q", 7))
    rec: Rec = (HISTORY, 1.5, {"step": 1, "data": {"x": 0.25, "y": -1, "z": 7}})
    seg.frame([rec], payload=raw)
    return make("msgpack_encodings", "A record in valid but non-minimal msgpack encodings "
                "(array16, float32, str8/str32, map16/map32, int64): readers accept any "
                "valid encoding.", seg.data, seg.events, seg.header_json())


ZSTD_RECORDS: list[Rec] = [
    (CONSOLE, T0 + 1.0, {"stream": "stdout", "text": "epoch 1/3: loss 0.9132 acc 0.6120\n" * 4}),
    (CONSOLE, T0 + 2.0, {"stream": "stdout", "text": "epoch 2/3: loss 0.5208 acc 0.7841\n" * 4}),
    history(1, T0 + 2.5, loss=0.5208, acc=0.7841),
    (CONSOLE, T0 + 3.0, {"stream": "stderr",
                         "text": "warning: lr scheduler stepped before optimizer\n"}),
    history(2, T0 + 3.5, loss=0.3311, acc=0.8550),
]
# zstandard.ZstdCompressor(level=3, write_content_size=True).compress(msgpack of the above)
ZSTD_PAYLOAD = bytes.fromhex(
    "28b52ffd6008010d0700540b9307cb41d954fc4040000082a673747265616da67374646f7574a474657874"
    "d98865706f636820312f333a206c6f737320302e393133322061636320302e363132300a80323532303837"
    "3834319303a0000082a47374657001a46461746182a4cb3fe0aa64c2f837b5a3616363cb3fe91758e21965"
    "2cc06572722f7761726e696e673a206c72207363686564756c657220706564206265666f7265206f707469"
    "6d697a6572e002d530be0ded288deb5c28f5c28f5c11006030700e0863b0bac11004181c48e16bdf0aed5a"
    "550bc30633804c4026601c086699d78651527506")


@vector
def zstd() -> Vector:
    import zstandard  # only to check that the stored payload still matches the records

    raw = b"".join(pack(r) for r in ZSTD_RECORDS)
    assert zstandard.ZstdDecompressor().decompress(ZSTD_PAYLOAD) == raw, "stale ZSTD_PAYLOAD"
    seg = Seg(0)
    seg.frame(ZSTD_RECORDS, payload=ZSTD_PAYLOAD, flags=1)
    return make("zstd", "One zstd-compressed frame (flags bit 0): the payload is one zstd "
                "frame whose content is the records' msgpack.", seg.data, seg.events,
                seg.header_json())


@vector
def multi_frame() -> Vector:
    seg, _ = multi()
    return make("multi_frame", "Four frames of 1, 3, 2 and 1 records in a segment whose first "
                "seq is 1000.", seg.data, seg.events, seg.header_json(), canonical=True)


@vector
def unknown_types() -> Vector:
    seg = Seg(0)
    seg.frame([
        (CONFIG, T0, {"a": 1}),
        (99, T0 + 1, {"new": [1, 2]}),
        (0, T0 + 2, "a str body"),
        (200, T0 + 3, {"blob": b"\x00\xffraw", 7: "int key"}),
        history(0, T0 + 4, x=1.0),
    ])
    return make("unknown_types", "Types 99, 0 and 200 are not assigned: a reader returns them "
                "(consumers skip them with a note) and goes on. Bodies may be any msgpack "
                "value, bin and int map keys included.", seg.data, seg.events,
                seg.header_json(), canonical=True)


@vector
def torn_tail() -> Vector:
    seg, f = multi()
    start = f[3]["offset"]
    cut = start + f[3]["size"] // 2
    return make("torn_tail", "The last frame cut in half (a crash mid-write): a torn tail, "
                "not damage; its header says it held seq 1006.", seg.data[:cut],
                [*seg.events[:3], incomplete(start, cut - start, 1006, 1006)],
                seg.header_json())


@vector
def torn_frame_header() -> Vector:
    seg, _ = multi()
    end = len(seg.data)
    nxt = frame_bytes(pack(history(4, T0 + 7, loss=1.0)), count=1, base_seq=1007)
    return make("torn_frame_header", "Only the first 10 bytes of a fifth frame's 19-byte "
                "header made it: a torn tail.", seg.data + nxt[:10],
                [*seg.events, incomplete(end, 10)], seg.header_json())


@vector
def zero_tail() -> Vector:
    seg, _ = multi()
    end = len(seg.data)
    return make("zero_tail", "64 zero bytes after the last frame (the file was extended but "
                "the data never reached the disk): a torn tail, not damage.",
                seg.data + bytes(64), [*seg.events, incomplete(end, 64)], seg.header_json())


def flipped(data: bytearray, pos: int, bit: int) -> bytearray:
    out = bytearray(data)
    out[pos] ^= 1 << bit
    return out


@vector
def bit_flip_payload() -> Vector:
    seg, f = multi()
    ev = seg.events
    return make("bit_flip_payload", "One bit flipped in frame 2's payload: that frame (seqs "
                "1001..1003) is lost, the rest is read.",
                flipped(seg.data, f[1]["offset"] + 19 + 5, 3),
                [ev[0], corrupt(f[1]["offset"], f[1]["size"], 1001, 1003), ev[2], ev[3]],
                seg.header_json())


@vector
def bit_flip_header() -> Vector:
    seg, f = multi()
    ev = seg.events
    return make("bit_flip_header", "One bit flipped in frame 3's count field: its header CRC "
                "fails, the reader resyncs on frame 4.",
                flipped(seg.data, f[2]["offset"] + 5, 0),
                [ev[0], ev[1], corrupt(f[2]["offset"], f[2]["size"], 1004, 1005), ev[3]],
                seg.header_json())


@vector
def bit_flip_last_frame() -> Vector:
    seg, f = multi()
    return make("bit_flip_last_frame", "One bit flipped in the last frame's payload: damage to "
                "the end of the file (last_lost null: how many seqs is unknown), of which the "
                "frame's intact header proves seq 1006 lost (last_known).",
                flipped(seg.data, f[3]["offset"] + 25, 7),
                [*seg.events[:3], corrupt(f[3]["offset"], f[3]["size"], 1006, None, 1006)],
                seg.header_json())


@vector
def inserted_bytes() -> Vector:
    seg, f = multi()
    ev = seg.events
    at = f[1]["offset"] + 30
    extra = b"\xde\xad\xbe\xef\x00"
    return make("inserted_bytes", "5 bytes inserted inside frame 2: it is lost, the frames "
                "after it are found again at their shifted offsets.",
                seg.data[:at] + extra + seg.data[at:],
                [ev[0], corrupt(f[1]["offset"], f[1]["size"] + 5, 1001, 1003),
                 *shifted(ev[2:], 5)], seg.header_json())


@vector
def inserted_between_frames() -> Vector:
    seg, f = multi()
    ev = seg.events
    at = f[1]["offset"]
    return make("inserted_between_frames", "3 bytes inserted between frames 1 and 2: damage "
                "that costs no record (last_lost = first_lost - 1).",
                seg.data[:at] + b"\x01\x02\x03" + seg.data[at:],
                [ev[0], corrupt(at, 3, 1001, 1000), *shifted(ev[1:], 3)], seg.header_json())


@vector
def deleted_bytes() -> Vector:
    seg, f = multi()
    ev = seg.events
    at = f[1]["offset"] + 25
    return make("deleted_bytes", "4 bytes deleted inside frame 2: it is lost, the frames after "
                "it are found again.", seg.data[:at] + seg.data[at + 4:],
                [ev[0], corrupt(f[1]["offset"], f[1]["size"] - 4, 1001, 1003),
                 *shifted(ev[2:], -4)], seg.header_json())


@vector
def deleted_frame() -> Vector:
    seg, f = multi()
    ev = seg.events
    start, size = f[1]["offset"], f[1]["size"]
    return make("deleted_frame", "Frame 2 removed exactly: every byte left is valid, but the "
                "seqs jump from 1000 to 1004, which is reported as damage skipping 0 bytes.",
                seg.data[:start] + seg.data[start + size:],
                [ev[0], corrupt(start, 0, 1001, 1003), *shifted(ev[2:], -size)],
                seg.header_json())


@vector
def deleted_from_big_frame() -> Vector:
    seg = Seg(0)
    big = seg.frame([(CONSOLE, T0, {"stream": "stdout", "text": "z" * 600})])
    rest = [seg.frame([history(0, T0 + 1, a=1.0)]), seg.frame([history(1, T0 + 2, a=2.0)])]
    at = big["offset"] + 40
    return make("deleted_from_big_frame", "400 bytes deleted from a large first frame: its "
                "length now reaches past the end of the file, like a torn tail, but complete "
                "frames follow its start, so it is damage and they are read.",
                seg.data[:at] + seg.data[at + 400:],
                [corrupt(big["offset"], big["size"] - 400, 0, 0), *shifted(rest, -400)],
                seg.header_json())


@vector
def trailing_garbage() -> Vector:
    seg, _ = multi()
    end = len(seg.data)
    return make("trailing_garbage", "40 non-zero bytes after the last frame, which ends with "
                "the run's EXIT record: damage, but no record lost (a writer writes nothing "
                "after EXIT in a segment), so last_lost = first_lost - 1.",
                seg.data + b"\xab" * 40, [*seg.events, corrupt(end, 40, 1007, 1006)],
                seg.header_json())


@vector
def trailing_garbage_live() -> Vector:
    seg, f = multi()
    end = f[3]["offset"]  # the run has not ended: no EXIT frame
    return make("trailing_garbage_live", "40 non-zero bytes after the last frame of a run "
                "that has not ended (no EXIT): damage to the end, how many seqs is unknown "
                "and no header proves any.", seg.data[:end] + b"\xab" * 40,
                [*seg.events[:3], corrupt(end, 40, 1006, None)], seg.header_json())


@vector
def stale_frame() -> Vector:
    seg = Seg(1000)
    seg.frame([history(0, T0 + 1, loss=2.0)])
    stale = seg.frame([history(1, T0 + 2, loss=1.5)], salt=OTHER_SALT)
    seg.frame([history(2, T0 + 3, loss=1.0)])
    ev = seg.events
    return make("stale_frame", "Frame 2 is well formed but its CRCs are seeded with another "
                "segment's salt (bytes left over from an older file): it does not validate here.",
                seg.data, [ev[0], corrupt(stale["offset"], stale["size"], 1001, 1001), ev[2]],
                seg.header_json())


@vector
def duplicate_frame() -> Vector:
    seg, f = multi()
    ev = seg.events
    dup = f[2]["offset"]
    copy = seg.data[f[1]["offset"]:f[2]["offset"]]
    return make("duplicate_frame", "Frame 2 written twice in a row: the copy validates but its "
                "seqs are behind the seq due, so it is skipped as damage that costs no record.",
                seg.data[:dup] + copy + seg.data[dup:],
                [ev[0], ev[1], corrupt(dup, len(copy), 1004, 1003), *shifted(ev[2:], len(copy))],
                seg.header_json())


def forged_between(payload: bytes, *, count: int, flags: int = 0, length: int | None = None,
                   reason: str, name: str) -> Vector:
    """Good frame, a frame with valid CRCs but a bad body, good frame."""
    seg = Seg(0)
    seg.frame([history(0, T0, a=1.0)])
    at = seg.raw(frame_bytes(payload, count=count, base_seq=1, flags=flags, length=length))
    seg.next_seq = 1 + count
    last = seg.frame([history(1, T0 + 1, a=2.0)])
    return make(name, reason, seg.data,
                [seg.events[0], corrupt(at, last["offset"] - at, 1, count), last],
                seg.header_json())


@vector
def count_mismatch() -> Vector:
    two = pack(history(5, T0, a=0.0)) * 2
    return forged_between(two, count=3, name="count_mismatch", reason="A frame with valid CRCs "
                          "whose count says 3 but whose payload holds 2 records: corrupt.")


@vector
def forged_length() -> Vector:
    return forged_between(b"abc", count=1, length=MAX_FRAME + 1, name="forged_length",
                          reason="A header (valid CRC) whose length is MAX_FRAME + 1: not a frame "
                          "header; a reader must not trust or allocate it.")


def zstd_rle(size: int) -> bytes:
    """A zstd frame of RLE blocks expanding to ``size`` zero bytes (RFC 8878)."""
    out = [struct.pack("<I", 0xFD2FB528), b"\x00\x38"]  # no content size; window 128 KiB
    while True:
        n = min(size, 128 * 1024)
        size -= n
        out.append(((n << 3) | 2 | int(size == 0)).to_bytes(3, "little") + b"\x00")
        if size == 0:
            return b"".join(out)


@vector
def zstd_bomb() -> Vector:
    return forged_between(zstd_rle(MAX_FRAME + 1), count=1, flags=1, name="zstd_bomb",
                          reason="A zstd payload (valid CRCs) that expands past MAX_FRAME: "
                          "corrupt; a reader stops decompressing at MAX_FRAME + 1 bytes.")


@vector
def unknown_flag() -> Vector:
    return forged_between(pack(history(5, T0, a=0.0)), count=1, flags=0x02, name="unknown_flag",
                          reason="A frame with flags bit 1 set (valid CRCs): unknown flag bits "
                          "mean it is not a frame this version can read.")


# -- the zstd frame inside a payload (docs/FORMAT.md, "Payload") ---------------------


def zstd_raw(content: bytes, *, window: int | None = None) -> bytes:
    """One zstd frame (RFC 8878) holding ``content`` as a single raw block.

    Without ``window``: Single_Segment with a 1- or 2-byte Frame_Content_Size
    (content under 65792 bytes). With ``window`` (a power of two >= 1 KiB): a
    Window_Descriptor instead and no content size.
    """
    out = [struct.pack("<I", 0xFD2FB528)]
    if window is None and len(content) < 256:
        out.append(bytes([0x20, len(content)]))  # Single_Segment, 1-byte Frame_Content_Size
    elif window is None:
        assert len(content) < 65792
        out.append(bytes([0x60]) + struct.pack("<H", len(content) - 256))  # 2-byte FCS - 256
    else:
        log = window.bit_length() - 1
        assert window == 1 << log and log >= 10
        out.append(bytes([0x00, (log - 10) << 3]))  # no FCS, no checksum; exponent, mantissa 0
    out.append(((len(content) << 3) | 1).to_bytes(3, "little"))  # last block, raw
    out.append(content)
    return b"".join(out)


def zstd_frame_vector(name: str, description: str, payload: bytes, recs: list[Rec], *,
                      valid: bool) -> Vector:
    """Good frame, a zstd frame of ``recs`` (valid or corrupt), good frame."""
    seg = Seg(0)
    seg.frame([history(0, T0, a=1.0)])
    if valid:
        seg.frame(recs, payload=payload, flags=1)
        return make(name, description, seg.data, seg.events, seg.header_json())
    return forged_between(payload, count=len(recs), flags=1, name=name, reason=description)


ZSTD_SMALL: list[Rec] = [(CONSOLE, T0 + 1.0, {"stream": "stdout", "text": "a" * 300}),
                         history(1, T0 + 2.0, loss=0.5)]


@vector
def zstd_trailing_bytes() -> Vector:
    raw = b"".join(pack(r) for r in ZSTD_SMALL)
    return zstd_frame_vector("zstd_trailing_bytes", "A zstd frame of the records followed by 4 "
                             "more bytes (valid CRCs): the payload must be exactly one zstd "
                             "frame, so the frame is corrupt.", zstd_raw(raw) + b"junk",
                             ZSTD_SMALL, valid=False)


@vector
def zstd_two_frames() -> Vector:
    first, second = pack(ZSTD_SMALL[0]), pack(ZSTD_SMALL[1])
    return zstd_frame_vector("zstd_two_frames", "Two zstd frames back to back, the records "
                             "split between them (valid CRCs): not one zstd frame, corrupt "
                             "even though each decodes.", zstd_raw(first) + zstd_raw(second),
                             ZSTD_SMALL, valid=False)


@vector
def zstd_window_max() -> Vector:
    raw = b"".join(pack(r) for r in ZSTD_SMALL)
    return zstd_frame_vector("zstd_window_max", "A zstd frame whose Window_Descriptor asks for "
                             "8 MiB (= MAX_FRAME), the largest window a reader must accept.",
                             zstd_raw(raw, window=MAX_FRAME), ZSTD_SMALL, valid=True)


@vector
def zstd_window_too_big() -> Vector:
    raw = b"".join(pack(r) for r in ZSTD_SMALL)
    return zstd_frame_vector("zstd_window_too_big", "A zstd frame whose Window_Descriptor asks "
                             "for 16 MiB (> MAX_FRAME), content fine: a reader refuses it "
                             "before allocating the window; corrupt.",
                             zstd_raw(raw, window=2 * MAX_FRAME), ZSTD_SMALL, valid=False)


# zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=True)
#     .compress(msgpack of ZSTD_SMALL): a frame with a Content_Checksum.
ZSTD_CHECKSUMMED = bytes.fromhex(
    "28b52ffd64740075020034049307cb41d954fc4040000082a673747265616da67374646f7574a474"
    "657874da012c61930380000082a47374657001a46461746181a46c6f7373cb3fe000000000000002"
    "00516bc04351c113eb29a9e9")


def checksummed_payload() -> bytes:
    import zstandard  # only to check that the stored frame still matches the records

    raw = b"".join(pack(r) for r in ZSTD_SMALL)
    assert zstandard.ZstdDecompressor().decompress(ZSTD_CHECKSUMMED) == raw, "stale checksum"
    return ZSTD_CHECKSUMMED


@vector
def zstd_checksum() -> Vector:
    return zstd_frame_vector("zstd_checksum", "A zstd frame with a Content_Checksum (the "
                             "reference writer writes none): a reader verifies it; here it "
                             "matches.", checksummed_payload(), ZSTD_SMALL, valid=True)


@vector
def zstd_bad_checksum() -> Vector:
    good = checksummed_payload()
    bad = good[:-4] + bytes(b ^ 0xFF for b in good[-4:])
    return zstd_frame_vector("zstd_bad_checksum", "The same zstd frame with its Content_Checksum "
                             "inverted (the frame CRCs recomputed, so they pass): corrupt.", bad,
                             ZSTD_SMALL, valid=False)


# -- seqs: the plausibility window and the u64 bound --------------------------------


@vector
def seq_window() -> Vector:
    seg = Seg(1000)
    seg.frame([history(0, T0, a=1.0)])  # seq 1000; 1001 is due next
    seg.next_seq = 1001 + (1 << 40)
    far = seg.frame([history(1, T0 + 1, a=2.0)])  # base_seq = due + 2^40: noise
    seg.next_seq = 1000 + (1 << 40)
    edge = seg.frame([history(2, T0 + 2, a=3.0)])  # base_seq = due + 2^40 - 1: plausible
    return make("seq_window", "A frame whose base_seq is exactly 2^40 past the seq due is not "
                "plausible (damage, skipped); one at 2^40 - 1 past it is, and the seqs before "
                "it count as lost.", seg.data,
                [seg.events[0], corrupt(far["offset"], far["size"], 1001, (1 << 40) + 999), edge],
                seg.header_json())


@vector
def seq_overflow() -> Vector:
    top = 1 << 64
    seg = Seg(top - 4)
    seg.frame([history(0, T0, a=1.0)])  # seq 2^64 - 4
    at = seg.raw(frame_bytes(pack(history(1, T0 + 1, a=2.0)) * 4, count=4, base_seq=top - 3))
    seg.next_seq = top - 3
    last = seg.frame([history(i, T0 + 2, a=3.0) for i in range(3)])  # seqs up to 2^64 - 1
    return make("seq_overflow", "A frame (valid CRCs) whose last seq would be 2^64, past the "
                "u64 range: not a frame header; the frame after it ends exactly at seq "
                "2^64 - 1 and is read.", seg.data,
                [seg.events[0], corrupt(at, last["offset"] - at, top - 3, top - 4), last],
                seg.header_json())


# -- torn tails with a header on disk ---------------------------------------------


@vector
def zero_filled_frame() -> Vector:
    seg, _ = multi()
    end = len(seg.data)
    whole = frame_bytes(pack(history(4, T0 + 7, loss=1.0)), count=1, base_seq=1007)
    tail = whole[:19] + bytes(len(whole) - 19 + 16)
    return make("zero_filled_frame", "A fifth frame's 19-byte header, then zeros where its "
                "payload, payload_crc and 16 more bytes should be (the header's block reached "
                "the disk, the rest of a preallocated or extended file did not): a torn tail of "
                "seq 1007, as its header says.",
                seg.data + tail, [*seg.events, incomplete(end, len(tail), 1007, 1007)],
                seg.header_json())


@vector
def half_written_frame() -> Vector:
    seg, _ = multi()
    end = len(seg.data)
    whole = frame_bytes(pack(history(4, T0 + 7, loss=1.0, note="x" * 60)), count=1,
                        base_seq=1007)
    keep = 19 + (len(whole) - 23) // 2
    tail = whole[:keep] + bytes(len(whole) - keep)
    return make("half_written_frame", "A fifth frame whose header and first half of payload "
                "are on disk, the rest (payload_crc included) zeros: a torn tail (seq 1007), not "
                "damage.", seg.data + tail, [*seg.events, incomplete(end, len(tail), 1007, 1007)],
                seg.header_json())


# -- well-formed records (docs/FORMAT.md, "Records") --------------------------------


class Bad:
    """A complete msgpack value in a payload that is not a well-formed record."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


Item = Rec | Bad


def mixed_frame(seg: Seg, items: list[Item]) -> list[dict[str, Any]]:
    """Append one frame of ``items``; the events a reader must give for it: one
    corrupt event (0 bytes) per run of consecutive malformed records, then the frame
    listing the well-formed ones."""
    payload = b"".join(i.raw if isinstance(i, Bad) else pack(i) for i in items)
    base, offset = seg.next_seq, len(seg.data)
    raw = frame_bytes(payload, count=len(items), base_seq=base)
    seg.data += raw
    seg.next_seq += len(items)
    events: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if isinstance(item, Bad):
            if events and events[-1]["last_lost"] == base + i - 1:
                events[-1]["last_lost"] = base + i
            else:
                events.append(corrupt(offset, 0, base + i, base + i))
    good = [(base + i, r) for i, r in enumerate(items) if not isinstance(r, Bad)]
    events.append(frame_event(offset, len(raw), 0, base, [r for _, r in good], len(items),
                              [q for q, _ in good]))
    seg.events += events
    return events


def mp_str(data: bytes) -> bytes:
    """A msgpack str (fixstr or str8) whose payload is ``data`` as is, UTF-8 or not."""
    return (bytes([0xA0 | len(data)]) if len(data) < 32 else b"\xd9" + bytes([len(data)])) + data


def history_with(raw_value: bytes, *, key: bytes = b"\xa1v") -> bytes:
    """[3, T0, {"step": 9, "data": {<key>: <raw_value>}}] with both spliced in as bytes."""
    return (b"\x93\x03\xcb" + struct.pack(">d", T0) + b"\x82\xa4step\x09\xa4data\x81"
            + key + raw_value)


@vector
def malformed_records() -> Vector:
    seg = Seg(0)
    body = {"step": 5, "data": {"x": 1.0}}
    mixed_frame(seg, [
        history(0, T0, x=0.0),
        Bad(msgpack.packb([True, T0, {"host": "h"}])),  # type: bool, not an integer
        Bad(msgpack.packb([-1, T0, {}])),  # negative type
        history(1, T0 + 1, x=1.0),
        Bad(msgpack.packb([3.0, T0, body])),  # a float type, even one equal to 3
        Bad(msgpack.packb([3, True, body])),  # ts: bool
        Bad(msgpack.packb([3, "now", body])),  # ts: str
        Bad(msgpack.packb([3, None, body])),  # ts: nil
        history(2, T0 + 2, x=2.0),
        Bad(msgpack.packb({"type": 3})),  # a map, not an array
        Bad(msgpack.packb([3, T0])),  # 2 elements
        Bad(msgpack.packb([3, T0, body, "extra"])),  # 4 elements
        Bad(msgpack.packb(7)),  # a bare int
        (3, T0 + 3, [1, 2]),  # well formed: a body of any kind is the consumer's business
        (CONFIG, 1, {"int ts": True}),  # well formed: an int ts reads as a double
    ])
    return make("malformed_records", "One frame (valid CRCs) mixing good records with complete "
                "msgpack values that are no well-formed record: a bool, negative or float type; "
                "a ts that is a bool, str or nil; a map, a 2- or 4-element array, a bare int. "
                "Each costs its own seq (one corrupt event of 0 bytes per run of them, before "
                "the frame); the frame's other records are read.", seg.data, seg.events,
                seg.header_json())


@vector
def invalid_utf8() -> Vector:
    seg = Seg(0)
    mixed_frame(seg, [
        history(0, T0, x=0.0),
        Bad(history_with(mp_str(b"\xff\xfe"))),  # not UTF-8 at all
        Bad(history_with(mp_str(b"x\xed\xa0\x80y"))),  # a surrogate in UTF-8 form (CESU)
        history(1, T0 + 1, x=1.0),
        Bad(history_with(b"\x01", key=mp_str(b"k\xc3"))),  # a key cut mid-character
        history(2, T0 + 2, x=2.0),
    ])
    return make("invalid_utf8", "Records holding a str that is not valid UTF-8 (in a value, "
                "in a key, an encoded surrogate): each is malformed and costs its own seq; "
                "its neighbours in the frame are read.", seg.data, seg.events,
                seg.header_json())


def nested(depth: int) -> bytes:
    """A value of ``depth`` nested one-element arrays around the int 1."""
    return b"\x91" * depth + b"\x01"


@vector
def nesting_limit() -> Vector:
    seg = Seg(0)
    # The record's array, its body map and the data map are 3 levels: 61 more make 64.
    deepest: Any = 1
    for _ in range(61):
        deepest = [deepest]
    mixed_frame(seg, [
        history(0, T0, deep=deepest),  # depth 64: the most a reader must accept
        Bad(history_with(nested(62))),  # depth 65
        history(1, T0 + 1, x=1.0),
        Bad(history_with(nested(2000))),  # far deeper than msgpack libraries' own stacks
        history(2, T0 + 2, x=2.0),
    ])
    return make("nesting_limit", "A record nested exactly MAX_DEPTH (64) levels deep, counting "
                "its own array, is read; one of 65 levels and one of 2003 are malformed and "
                "cost their own seq only.", seg.data, seg.events, seg.header_json())


@vector
def container_map_key() -> Vector:
    seg = Seg(0)
    mixed_frame(seg, [
        history(0, T0, x=0.0),
        Bad(history_with(b"\x01", key=b"\x92\x01\x02")),  # key [1, 2]
        Bad(history_with(b"\x01", key=b"\x81\xa1a\x01")),  # key {"a": 1}
        (CONFIG, T0 + 1, {1: "int", None: "nil", False: "bool", 2.5: "float", b"k": "bin"}),
    ])
    return make("container_map_key", "Map keys that are an array or a map make a record "
                "malformed (many languages cannot key a map by one); keys of every other kind "
                "(int, nil, bool, float, bin) are well formed.", seg.data, seg.events,
                seg.header_json())


@vector
def invalid_msgpack() -> Vector:
    good, after = pack(history(1, T0, x=1.0)), pack(history(2, T0, x=2.0))
    return forged_between(good + b"\xc1" + after, count=3, name="invalid_msgpack",
                          reason="A payload (valid CRCs) whose second value starts with 0xc1, a "
                          "byte msgpack never uses: the record boundaries are lost, so the "
                          "whole frame is corrupt (unlike a malformed record).")


@vector
def ext_values() -> Vector:
    seg = Seg(0)
    seg.frame([(CONFIG, T0, {"ext": msgpack.ExtType(5, b"\x00\x01"),
                             "when": msgpack.Timestamp(1_700_000_000, 0),
                             "blob": b"\x00\xff"})])
    return make("ext_values", "Ext values (code 5, and the msgpack timestamp, ext -1) and bin "
                "in a body: readers pass them through as opaque values.", seg.data, seg.events,
                seg.header_json(), canonical=True)


@vector
def bad_magic() -> Vector:
    seg, _ = multi()
    return make("bad_magic", "The segment does not start with RWAL: the whole segment is "
                "unreadable.", b"RWAX" + seg.data[4:], [], {"error": "bad_magic"})


@vector
def bad_header_crc() -> Vector:
    seg, _ = multi()
    return make("bad_header_crc", "One bit flipped in the header's salt: its CRC fails and, "
                "with no trustworthy salt, no frame can be checked.",
                flipped(seg.data, 9, 0), [], {"error": "bad_crc"})


@vector
def future_version() -> Vector:
    seg, _ = multi()
    data = segment_header(1000, version=2) + seg.data[32:]
    return make("future_version", "A valid header with version 2: written by a newer format; "
                "a version-1 reader refuses the segment rather than guess.", data, [],
                {"error": "unsupported_version"})


@vector
def short_header() -> Vector:
    seg, _ = multi()
    return make("short_header", "Only 20 of the header's 32 bytes: a segment torn while being "
                "created.", seg.data[:20], [incomplete(0, 20)], None)


# -- logs: several segments read in file-name order ---------------------------------
#
# What a reader must make of a run's log/ directory as a whole: the seq due carries
# over from one segment to the next, and every lost seq is reported exactly once --
# by the unreadable segment that held it, or by a gap before the next segment.

LOGS: list[Callable[[], Vector]] = []


def log_vector(fn: Callable[[], Vector]) -> Callable[[], Vector]:
    LOGS.append(fn)
    return fn


def seg_name(base_seq: int) -> str:
    return f"{base_seq:020d}.seg"


def in_segment(name: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events of one segment as a log lists them: each says which segment it is in."""
    return [{"event": e["event"], "segment": name,
             **{k: v for k, v in e.items() if k != "event"}} for e in events]


def segment_damaged(name: str, error: str, first_lost: int,
                    last_lost: int | None) -> dict[str, Any]:
    return {"event": "segment_damaged", "segment": name, "error": error,
            "first_lost": first_lost, "last_lost": last_lost}


def steps(seg: Seg, *sizes: int) -> Seg:
    """Append one frame per size, each of that many history records."""
    for n in sizes:
        seg.frame([history(seg.next_seq + i, T0 + seg.next_seq + i, x=float(i))
                   for i in range(n)])
    return seg


def make_log(name: str, description: str, segments: list[tuple[int, bytes | bytearray]],
             events: list[dict[str, Any]], lost_records: int) -> Vector:
    bad = {"corrupt", "segment_damaged"}
    if any(e["event"] in bad for e in events):
        verdict = "damaged"
    else:
        verdict = "torn" if any(e["event"] == "incomplete" for e in events) else "clean"
    files = [[seg_name(base), f"{name}.{i}.seg"] for i, (base, _) in enumerate(segments)]
    return {"name": name, "description": description, "segments": files, "events": events,
            "lost_records": lost_records, "verify": verdict,
            "data": {f: bytes(data) for (_, f), (_, data) in zip(files, segments, strict=True)}}


@log_vector
def two_segments() -> Vector:
    a, b = steps(Seg(0), 2, 1), steps(Seg(3), 2)
    return make_log("two_segments", "A run in two segments, seqs 0..2 and 3..4: the seq due "
                    "carries over, nothing is lost.", [(0, a.data), (3, b.data)],
                    in_segment(seg_name(0), a.events) + in_segment(seg_name(3), b.events), 0)


@log_vector
def missing_segment() -> Vector:
    a, c = steps(Seg(0), 3), steps(Seg(6), 2)
    return make_log("missing_segment", "The middle of three segments (seqs 3..5) is gone: a gap "
                    "of 0 bytes reported at offset 32 of the segment after it.",
                    [(0, a.data), (6, c.data)],
                    [*in_segment(seg_name(0), a.events),
                     *in_segment(seg_name(6), [corrupt(32, 0, 3, 5), *c.events])], 3)


@log_vector
def lost_middle_segment() -> Vector:
    a, b, c = steps(Seg(1000), 1, 2), steps(Seg(1003), 3), steps(Seg(1006), 2)
    return make_log("lost_middle_segment", "The middle segment's magic is damaged: it is lost "
                    "whole (seqs 1003..1005, up to the next segment's base_seq), reported once, "
                    "not again as a gap before the next segment.",
                    [(1000, a.data), (1003, b"RWAX" + b.data[4:]), (1006, c.data)],
                    [*in_segment(seg_name(1000), a.events),
                     segment_damaged(seg_name(1003), "bad_magic", 1003, 1005),
                     *in_segment(seg_name(1006), c.events)], 3)


@log_vector
def lost_first_segment() -> Vector:
    a, b = steps(Seg(0), 4, 4), steps(Seg(8), 2)
    return make_log("lost_first_segment", "The first segment's header CRC fails: no seq is due "
                    "yet, so its seqs start at the base_seq in its file name (0..7).",
                    [(0, flipped(a.data, 9, 0)), (8, b.data)],
                    [segment_damaged(seg_name(0), "bad_crc", 0, 7),
                     *in_segment(seg_name(8), b.events)], 8)


@log_vector
def lost_segments_in_a_row() -> Vector:
    a, b, c, d = (steps(Seg(0), 2), steps(Seg(2), 2), steps(Seg(4), 2), steps(Seg(6), 1))
    future = segment_header(4, version=2) + c.data[32:]
    return make_log("lost_segments_in_a_row", "Two unreadable segments in a row: the first one's "
                    "loss ends at the second one's file name (its header cannot be trusted), "
                    "each reports its own seqs.",
                    [(0, a.data), (2, b"RWAX" + b.data[4:]), (4, future), (6, d.data)],
                    [*in_segment(seg_name(0), a.events),
                     segment_damaged(seg_name(2), "bad_magic", 2, 3),
                     segment_damaged(seg_name(4), "unsupported_version", 4, 5),
                     *in_segment(seg_name(6), d.events)], 4)


@log_vector
def lost_last_segment() -> Vector:
    a, b = steps(Seg(0), 3), steps(Seg(3), 2)
    return make_log("lost_last_segment", "The last segment's header is unreadable: its seqs run "
                    "from 3 to the end of the log (last_lost null: how many is unknown, counted "
                    "as 0 known lost).", [(0, a.data), (3, b"RWAX" + b.data[4:])],
                    [*in_segment(seg_name(0), a.events),
                     segment_damaged(seg_name(3), "bad_magic", 3, None)], 0)


@log_vector
def damaged_segment_tail() -> Vector:
    a, b = steps(Seg(0), 2, 2), steps(Seg(4), 2)
    last = a.events[-1]
    spoiled = flipped(a.data, last["offset"] + 25, 1)  # in the last frame's payload
    return make_log("damaged_segment_tail", "The first segment's last frame (seqs 2..3) is "
                    "damaged, so its damage runs to the end of that file; the next segment's "
                    "base_seq closes the range (last_lost 3, not null), and no gap is reported "
                    "again before it.", [(0, spoiled), (4, b.data)],
                    [*in_segment(seg_name(0), [a.events[0],
                                               corrupt(last["offset"], last["size"], 2, 3)]),
                     *in_segment(seg_name(4), b.events)], 2)


# -- run vectors: the writer streams of a shared run (docs/FORMAT.md, "Streams") -------

RUNS: list[Callable[[], Vector]] = []


def run_vector(fn: Callable[[], Vector]) -> Callable[[], Vector]:
    RUNS.append(fn)
    return fn


def stream_seg(label: str, rank: int, n: int, *, end: bool = True) -> Seg:
    """A stream's one segment: its run record (with the stream facts), ``n`` rows, exit."""
    seg = Seg(0)
    seg.frame([(RUN, T0, {"run_id": "job7", "host": f"node{rank}", "pid": 100 + rank,
                          "stream": {"label": label, "primary": rank == 0, "rank": rank,
                                     "local_rank": rank % 2, "world_size": 4,
                                     "node_rank": rank // 2}})])
    seg.frame([history(i, T0 + 1 + i, loss=float(rank) + i / 10) for i in range(n)])
    if end:
        seg.frame([(EXIT, T0 + 9, {"code": 0, "status": "finished", "runtime": 9.0})])
    return seg


@run_vector
def shared_run() -> Vector:
    """A shared run: the primary's log/, streams rank_1 and rank_2, and entries of
    streams/ that are no stream."""
    primary, one = stream_seg("rank_0", 0, 3), stream_seg("rank_1", 1, 2)
    two = stream_seg("rank_2", 2, 4, end=False)
    cut = len(two.data) - 7  # rank_2 was killed mid-write: a torn tail of its last frame
    last = two.events[-1]
    two_events = [*two.events[:-1], incomplete(last["offset"], cut - last["offset"], 1, 4)]
    stray = stream_seg("_tmp", 3, 1)
    identity = json.dumps({"run_id": "job7", "project": "p", "name": "job7",
                           "created": T0, "format": 1}).encode()
    files = {"run.json": identity, f"log/{seg_name(0)}": bytes(primary.data),
             f"streams/rank_1/log/{seg_name(0)}": bytes(one.data),
             f"streams/rank_2/log/{seg_name(0)}": bytes(two.data[:cut]),
             f"streams/_tmp/log/{seg_name(0)}": bytes(stray.data),  # no label: not a stream
             "streams/notes.txt": b"a file, not a stream\n"}
    return {"name": "shared_run",
            "description": "A shared run of three writer streams: the primary's log/ and "
                           "streams/rank_1, streams/rank_2 (killed: a torn tail). "
                           "streams/_tmp (not a label: a name must start with a letter or "
                           "digit), streams/nolog (no log/) and streams/notes.txt (a file) "
                           "are no streams. Each stream has seqs of its own from 0.",
            "files": files, "dirs": ["files", "streams/nolog/files"],
            "streams": [{"label": "", "events": in_segment(seg_name(0), primary.events)},
                        {"label": "rank_1", "events": in_segment(seg_name(0), one.events)},
                        {"label": "rank_2", "events": in_segment(seg_name(0), two_events)}],
            "lost_records": 0, "verify": "torn"}


# -- writing -------------------------------------------------------------------------


def render() -> dict[str, bytes]:
    """File name -> bytes for every vector and the index."""
    files: dict[str, bytes] = {}
    index = []
    for build in VECTORS:
        v = build()
        data = v.pop("data")
        files[v["file"]] = data
        files[f"{v['name']}.json"] = dump(v)
        index.append({"name": v["name"], "file": v["file"], "expected": f"{v['name']}.json",
                      "verify": v["verify"], "canonical": v["canonical"],
                      "description": v["description"]})
    logs = []
    for build in LOGS:
        v = build()
        files.update(v.pop("data"))
        files[f"{v['name']}.json"] = dump(v)
        logs.append({"name": v["name"], "segments": v["segments"],
                     "expected": f"{v['name']}.json", "verify": v["verify"],
                     "description": v["description"]})
    runs = []
    for build in RUNS:
        v = build()
        layout = []
        for i, (rel, data) in enumerate(sorted(v.pop("files").items())):
            name = f"{v['name']}.{i}.{'json' if rel.endswith('.json') else 'seg'}"
            files[name] = data
            layout.append([rel, name])
        v = {"name": v["name"], "description": v["description"], "files": layout,
             "dirs": v["dirs"], **{k: v[k] for k in ("streams", "lost_records", "verify")}}
        files[f"{v['name']}.json"] = dump(v)
        runs.append({"name": v["name"], "files": layout, "dirs": v["dirs"],
                     "expected": f"{v['name']}.json", "verify": v["verify"],
                     "description": v["description"]})
    files["index.json"] = dump({"format_version": 1, "salt": f"0x{SALT:016x}",
                                "vectors": index, "logs": logs, "runs": runs})
    return files


def dump(obj: dict[str, Any]) -> bytes:
    """Pretty JSON with one line per event and per record, so diffs stay readable."""

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=True, allow_nan=False)

    def item(key: str, value: Any) -> str:
        if key == "events" and value:
            lines = []
            for ev in value:
                recs = ev.get("records")
                head = compact({k: v for k, v in ev.items() if k != "records"})
                if recs is None:
                    lines.append(f"  {head}")
                else:
                    body = ",\n".join(f"   {compact(r)}" for r in recs)
                    lines.append(f'  {head[:-1]}, "records": [\n{body}\n  ]}}')
            return '"events": [\n' + ",\n".join(lines) + "\n ]"
        if key == "streams" and value:
            return '"streams": [\n' + ",\n".join(
                f'  {{"label": {compact(st["label"])}, ' + item("events", st["events"])
                .replace("\n", "\n ") + "}" for st in value) + "\n ]"
        if key in ("vectors", "logs", "runs"):
            return f'"{key}": [\n' + ",\n".join(f"  {compact(v)}" for v in value) + "\n ]"
        return f"{compact(key)}: {compact(value)}"

    return ("{\n" + ",\n".join(f" {item(k, v)}" for k, v in obj.items()) + "\n}\n").encode()


def write(out: Path) -> list[str]:
    """Write every file; remove vector files in ``out`` that are no longer generated."""
    out.mkdir(parents=True, exist_ok=True)
    files = render()
    for old in out.iterdir():
        if old.suffix in (".seg", ".json") and old.name not in files:
            old.unlink()
    for name, data in files.items():
        (out / name).write_bytes(data)
    return sorted(files)


def differences(committed: Path) -> list[str]:
    """What differs between ``committed`` and a fresh generation (empty when none)."""
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp))
        fresh = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
    have = {p.name: p.read_bytes() for p in committed.iterdir()} if committed.is_dir() else {}
    out = [f"missing: {n}" for n in sorted(set(fresh) - set(have))]
    out += [f"not generated: {n}" for n in sorted(set(have) - set(fresh))]
    out += [f"differs: {n}" for n in sorted(set(fresh) & set(have)) if fresh[n] != have[n]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=VECTORS_DIR, help="directory to write")
    ap.add_argument("--check", action="store_true",
                    help="compare --out with what would be written; exit 1 on any difference")
    args = ap.parse_args(argv)
    if args.check:
        diff = differences(args.out)
        for line in diff:
            print(line, file=sys.stderr)
        print(f"{args.out}: {'stale' if diff else 'up to date'}")
        return 1 if diff else 0
    names = write(args.out)
    print(f"wrote {len(names)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
