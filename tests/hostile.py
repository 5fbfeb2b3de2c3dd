"""Crafted and hostile run directories, one builder per case.

Every builder has the signature ``build(root) -> (name, path)``: it makes one
run directory ``root/<name>`` (or leaves ``root/<name>`` broken on purpose)
and returns the case name and that path. `CASES` maps each name to its
builder; `build_all(root)` builds them all. Used by the CLI robustness test
("every command on every crafted input: one line + exit code, never a
traceback") and by bench/reliability.py section d.

What a correct runwal does with each case is in the builder's docstring. In
short: a damaged or nonsensical input is *reported* (a note, a skipped record
or run, exit 1 or 2 with one line on stderr), never a traceback, never a hang,
and never a reason to drop the good records next to it. Nothing outside the
run directory is ever read for upload.

Segments are built with the schema API (SegmentHeader, split_frames) as
tests/syncutil.py does, so every frame has valid CRCs: the hostility is in the
*records*, which is what a buggy or forged writer produces and what CRCs do not
catch. Records msgpack cannot express through ``msgpack.packb`` (1000-level
nesting, invalid UTF-8, lone surrogates) are spliced in as raw bytes.

`NEIGHBOURS` names the cases whose log holds ten good history rows (key
``ok``, steps 0..9) around the hostile record; a reader should still show all
ten. `ESCAPE_CASES` names the cases that try to get files from outside the run
uploaded; `LEAK_MARKERS` are the artifact path parts that would prove a leak.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgpack

from schema.frame import split_frames
from schema.records import RecordType
from schema.segment import SegmentHeader, segment_name

Builder = Callable[[Path], tuple[str, Path]]
CASES: dict[str, Builder] = {}
NEIGHBOURS: set[str] = set()
ESCAPE_CASES: set[str] = set()
LEAK_MARKERS = ("passwd", "etc_link", "hostname", "shadow", "group")

PROJECT = "hostile"
T0 = 1_700_000_000.0
R = RecordType
NEIGHBOUR_KEY = "ok"
_PLACEHOLDER = "\x01HOSTILE-SPLICE\x01"


def case(*, neighbours: bool = False, escape: bool = False) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        name = fn.__name__
        CASES[name] = fn
        if neighbours:
            NEIGHBOURS.add(name)
        if escape:
            ESCAPE_CASES.add(name)
        return fn

    return register


def build_all(root: Path) -> list[tuple[str, Path]]:
    """Build every case under ``root`` (which must exist)."""
    return [build(root) for build in CASES.values()]


# ---------------------------------------------------------------- helpers


def run_id_for(root: Path, name: str) -> str:
    """A run id unique to (root, case), so cases built twice never meet on one server."""
    tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return f"h-{name.replace('_', '-')}-{tag}"


def ident(root: Path, case_name: str, **override: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"run_id": run_id_for(root, case_name), "project": PROJECT,
                           "name": case_name, "created": T0, "format": 1}
    out.update(override)
    return out


def run_json_case(root: Path, case_name: str, **override: Any) -> tuple[str, Path]:
    """A case whose log is good and whose run.json is ``ident`` with ``override``."""
    rd = make_dir(root, case_name, run_json=ident(root, case_name, **override))
    good_log(rd)
    return case_name, rd


def make_dir(root: Path, name: str, *, run_json: Any = None, raw_json: bytes | None = None,
             log: bool = True, files: bool = True) -> Path:
    """``root/name`` with log/ and files/ and a run.json (``ident`` unless given)."""
    rd = root / name
    rd.mkdir(parents=True, exist_ok=True)
    if log:
        (rd / "log").mkdir(exist_ok=True)
    if files:
        (rd / "files").mkdir(exist_ok=True)
    if raw_json is not None:
        (rd / "run.json").write_bytes(raw_json)
    else:
        data = ident(root, name) if run_json is None else run_json
        (rd / "run.json").write_text(json.dumps(data))
    return rd


def pack(rtype: Any, ts: Any, body: Any) -> bytes:
    """One record as msgpack ``[type, ts, body]`` with no validation at all."""
    return msgpack.packb([rtype, ts, body], use_bin_type=True)


def splice(rtype: Any, ts: Any, body: Any, raw: bytes) -> bytes:
    """Pack a record whose body holds `_PLACEHOLDER` (as a str value) and put
    ``raw`` (already-encoded msgpack) where that str was."""
    packed = pack(rtype, ts, body)
    marker = msgpack.packb(_PLACEHOLDER, use_bin_type=True)
    assert packed.count(marker) == 1, "the placeholder must occur once"
    return packed.replace(marker, raw)


def raw_str(data: bytes) -> bytes:
    """A msgpack str whose payload is ``data`` as is (may be invalid UTF-8)."""
    n = len(data)
    if n < 32:
        return bytes([0xA0 | n]) + data
    if n < 256:
        return b"\xd9" + bytes([n]) + data
    return b"\xda" + n.to_bytes(2, "big") + data


def write_segment(rd: Path, packed: Iterable[bytes], *, base_seq: int = 0) -> Path:
    head = SegmentHeader.new(base_seq, salt=0x5EED_0000_0000_0000 + base_seq % 1000)
    path = rd / "log" / segment_name(base_seq)
    with open(path, "wb") as fh:
        fh.write(head.encode())
        for frame in split_frames(list(packed), base_seq, head.seed):
            fh.write(frame)
    return path


def start_records() -> list[bytes]:
    return [
        pack(int(R.RUN), T0, {"host": "h1", "user": "u", "argv": ["train.py"]}),
        pack(int(R.CONFIG), T0 + 0.001, {"lr": 0.1}),
    ]


def history(step: int, ts: float | None = None, **data: Any) -> bytes:
    return pack(int(R.HISTORY), T0 + 0.01 * (step + 1) if ts is None else ts,
                {"step": step, "data": data or {NEIGHBOUR_KEY: float(step)}})


def exit_record(ts: float = T0 + 1.0) -> bytes:
    return pack(int(R.EXIT), ts, {"code": 0, "status": "finished", "runtime": 1.0})


def around(hostile: Iterable[bytes]) -> list[bytes]:
    """RUN, CONFIG, good rows 0..4, the hostile records, good rows 5..9, EXIT:
    one frame, so a reader that drops the whole frame for one bad record shows."""
    return [*start_records(), *(history(s) for s in range(5)), *hostile,
            *(history(s) for s in range(5, 10)), exit_record()]


def good_log(rd: Path) -> Path:
    return write_segment(rd, around([]))


def neighbour_run(root: Path, name: str, hostile: Iterable[bytes]) -> tuple[str, Path]:
    rd = make_dir(root, name)
    write_segment(rd, around(hostile))
    return name, rd


def sdk_child(root: Path, name: str, body: str) -> tuple[str, Path]:
    """Run ``body`` in a fresh interpreter after ``logwriter.init`` of this case's
    run; ``logwriter.finish()`` is called after it. Exceptions from body are
    swallowed: the case is what ends up on disk."""
    run_id = run_id_for(root, name)
    code = textwrap.dedent(f"""
        import sys, warnings
        warnings.simplefilter("ignore")
        import logwriter
        logwriter.init(project={PROJECT!r}, id={run_id!r}, dir={str(root)!r},
                       capture_console=True, stats_interval=0)
        for s in range(5):
            logwriter.log({{{NEIGHBOUR_KEY!r}: float(s)}})
        try:
    """) + textwrap.indent(textwrap.dedent(body), "    ") + textwrap.dedent(f"""
        except Exception as exc:
            print("sdk refused:", type(exc).__name__, file=sys.__stderr__)
        for s in range(5, 10):
            try:
                logwriter.log({{{NEIGHBOUR_KEY!r}: float(s)}})
            except Exception as exc:
                print("sdk refused a good row:", type(exc).__name__, file=sys.__stderr__)
        logwriter.finish()
    """)
    env = dict(os.environ, PYTHONIOENCODING="utf-8:surrogateescape", PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent / "src"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120,
                   check=False)
    rd = root / run_id
    target = root / name
    if rd.exists() and rd != target:
        rd.rename(target)
    elif not rd.exists():
        target.mkdir(exist_ok=True)  # the SDK wrote nothing: an empty dir is the case
    return name, target


# ---------------------------------------------------------------- run.json


@case()
def runjson_created_nan(root: Path) -> tuple[str, Path]:
    """``created: NaN`` (Python's json writes and reads the bare token). ls sorts
    it, show prints it, sync picks a start time from the records or refuses the
    run with one line; the batch goes on."""
    rd = make_dir(root, "runjson_created_nan", run_json=ident(root, "runjson_created_nan",
                                                              created=float("nan")))
    good_log(rd)
    return "runjson_created_nan", rd


@case()
def runjson_created_inf(root: Path) -> tuple[str, Path]:
    """``created: Infinity``."""
    return run_json_case(root, "runjson_created_inf", created=float("inf"))


@case()
def runjson_created_neg_inf(root: Path) -> tuple[str, Path]:
    """``created: -Infinity``."""
    return run_json_case(root, "runjson_created_neg_inf", created=float("-inf"))


@case()
def runjson_created_huge(root: Path) -> tuple[str, Path]:
    """``created: 1e300`` (datetime.fromtimestamp overflows)."""
    return run_json_case(root, "runjson_created_huge", created=1e300)


@case()
def runjson_created_bigint(root: Path) -> tuple[str, Path]:
    """``created`` a 40-digit integer (json gives a Python int; float() is inf-ish)."""
    return run_json_case(root, "runjson_created_bigint", created=10**40)


@case()
def runjson_created_string(root: Path) -> tuple[str, Path]:
    """``created: "yesterday"``."""
    return run_json_case(root, "runjson_created_string", created="yesterday")


@case()
def runjson_not_object(root: Path) -> tuple[str, Path]:
    """run.json is valid JSON but an array."""
    name = "runjson_not_object"
    rd = make_dir(root, name, run_json=[1, 2, 3])
    good_log(rd)
    return name, rd


@case()
def runjson_scalar(root: Path) -> tuple[str, Path]:
    """run.json is ``null``."""
    name = "runjson_scalar"
    rd = make_dir(root, name, raw_json=b"null")
    good_log(rd)
    return name, rd


@case()
def runjson_invalid(root: Path) -> tuple[str, Path]:
    """run.json cut in the middle (not JSON)."""
    name = "runjson_invalid"
    rd = make_dir(root, name, raw_json=b'{"run_id": "x", "created": ')
    good_log(rd)
    return name, rd


@case()
def runjson_binary(root: Path) -> tuple[str, Path]:
    """run.json is 4 KiB of binary garbage (NULs, invalid UTF-8)."""
    name = "runjson_binary"
    rng = random.Random(name)
    rd = make_dir(root, name, raw_json=b"\x00\xff\xfe" + bytes(rng.randrange(256)
                                                               for _ in range(4096)))
    good_log(rd)
    return name, rd


@case()
def runjson_empty(root: Path) -> tuple[str, Path]:
    """run.json of zero bytes (a crash between create and write)."""
    name = "runjson_empty"
    rd = make_dir(root, name, raw_json=b"")
    good_log(rd)
    return name, rd


@case()
def runjson_wrong_types(root: Path) -> tuple[str, Path]:
    """Every field of the wrong type: run_id an int, name a map, project a list."""
    name = "runjson_wrong_types"
    rd = make_dir(root, name, run_json={"run_id": 12345, "project": ["p"], "name": {"a": 1},
                                        "created": [T0], "format": "1"})
    good_log(rd)
    return name, rd


@case()
def runjson_surrogates(root: Path) -> tuple[str, Path]:
    """Lone surrogates in name and project (``\\ud800`` escapes are valid JSON)."""
    return run_json_case(root, "runjson_surrogates", name="bad\ud800name", project="proj\udcff")


@case()
def runjson_run_id_traversal(root: Path) -> tuple[str, Path]:
    """``run_id: "../../../tmp/evil"``: must never become a path anywhere."""
    return run_json_case(root, "runjson_run_id_traversal",
                         run_id="../../../tmp/evil/runjson_run_id_traversal")


@case()
def runjson_future_format(root: Path) -> tuple[str, Path]:
    """``format: 999``: refused with "upgrade runwal", not misread."""
    return run_json_case(root, "runjson_future_format", format=999)


@case()
def runjson_is_dir(root: Path) -> tuple[str, Path]:
    """run.json is a directory."""
    name = "runjson_is_dir"
    rd = make_dir(root, name, raw_json=b"")
    (rd / "run.json").unlink()
    (rd / "run.json").mkdir()
    good_log(rd)
    return name, rd


@case()
def runjson_missing(root: Path) -> tuple[str, Path]:
    """A log/ and no run.json (a run dir per layout; identity unknown)."""
    name = "runjson_missing"
    rd = make_dir(root, name)
    (rd / "run.json").unlink()
    good_log(rd)
    return name, rd


@case()
def runjson_unreadable(root: Path) -> tuple[str, Path]:
    """run.json with mode 000 (no effect when run as root)."""
    name = "runjson_unreadable"
    rd = make_dir(root, name)
    good_log(rd)
    (rd / "run.json").chmod(0)
    return name, rd


# ---------------------------------------------------------------- timestamps


def _bad_ts_run(root: Path, name: str, ts: Any) -> tuple[str, Path]:
    """The RUN record, one history row and the EXIT record carry ``ts``."""
    rd = make_dir(root, name)
    recs = [pack(int(R.RUN), ts, {"host": "h1", "user": "u", "argv": ["train.py"]}),
            pack(int(R.CONFIG), T0, {"lr": 0.1}),
            *(history(s) for s in range(5)),
            history(100, ts=ts, bad_ts=1.0),
            *(history(s) for s in range(5, 10)),
            pack(int(R.EXIT), ts, {"code": 0, "status": "finished", "runtime": 1.0})]
    write_segment(rd, recs)
    return name, rd


@case(neighbours=True)
def ts_nan(root: Path) -> tuple[str, Path]:
    """Records whose ts is NaN (start time, a metric timestamp, the end time)."""
    return _bad_ts_run(root, "ts_nan", float("nan"))


@case(neighbours=True)
def ts_inf(root: Path) -> tuple[str, Path]:
    """Records whose ts is +inf."""
    return _bad_ts_run(root, "ts_inf", float("inf"))


@case(neighbours=True)
def ts_neg_inf(root: Path) -> tuple[str, Path]:
    """Records whose ts is -inf."""
    return _bad_ts_run(root, "ts_neg_inf", float("-inf"))


@case(neighbours=True)
def ts_1e300(root: Path) -> tuple[str, Path]:
    """Records whose ts is 1e300 (finite, beyond any datetime and int64 ms)."""
    return _bad_ts_run(root, "ts_1e300", 1e300)


@case(neighbours=True)
def ts_negative(root: Path) -> tuple[str, Path]:
    """Records whose ts is -1e18."""
    return _bad_ts_run(root, "ts_negative", -1e18)


@case(neighbours=True)
def ts_bool(root: Path) -> tuple[str, Path]:
    """Records whose ts is ``true`` (msgpack bool; Python's bool is an int)."""
    return _bad_ts_run(root, "ts_bool", True)


@case(neighbours=True)
def ts_bigint(root: Path) -> tuple[str, Path]:
    """Records whose ts is the integer 2**64-1."""
    return _bad_ts_run(root, "ts_bigint", 2**64 - 1)


# ---------------------------------------------------------------- record shapes


def _nested_list(depth: int) -> bytes:
    return b"\x91" * depth + b"\x01"  # fixarray(1) ... 1


def _nested_map(depth: int) -> bytes:
    return b"\x81\xa1k" * depth + b"\x01"  # fixmap(1) {"k": ...} ... 1


@case(neighbours=True)
def deep_nesting(root: Path) -> tuple[str, Path]:
    """A history value nested 1000 arrays deep (json.dumps recurses past its limit)."""
    body = {"step": 50, "data": {"deep": _PLACEHOLDER}}
    return neighbour_run(root, "deep_nesting",
                         [splice(int(R.HISTORY), T0 + 0.5, body, _nested_list(1000))])


@case(neighbours=True)
def deep_nesting_maps(root: Path) -> tuple[str, Path]:
    """A config value of 1000 nested maps (flattening recurses per level)."""
    body = {"deep": _PLACEHOLDER}
    return neighbour_run(root, "deep_nesting_maps",
                         [splice(int(R.CONFIG), T0 + 0.5, body, _nested_map(1000))])


@case(neighbours=True)
def deep_nesting_100k(root: Path) -> tuple[str, Path]:
    """A summary value nested 100,000 arrays deep (beyond msgpack's C stack)."""
    body = {"deep": _PLACEHOLDER}
    return neighbour_run(root, "deep_nesting_100k",
                         [splice(int(R.SUMMARY), T0 + 0.5, body, _nested_list(100_000))])


@case(neighbours=True)
def nonstr_keys(root: Path) -> tuple[str, Path]:
    """Map keys that are ints, floats, bytes, None and bools in history data,
    config, summary and the record body itself."""
    odd = {1: 1.0, -7: 1.5, 2.5: 2.0, b"bin": 3.0, None: 4.0, False: 5.0, "fine": 6.0}
    return neighbour_run(root, "nonstr_keys", [
        pack(int(R.HISTORY), T0 + 0.5, {"step": 50, "data": odd}),
        pack(int(R.CONFIG), T0 + 0.5, odd),
        pack(int(R.SUMMARY), T0 + 0.5, odd),
        pack(int(R.HISTORY), T0 + 0.5, {1: 2, "step": 51, "data": {"x": 1.0}}),
    ])


@case(neighbours=True)
def array_map_key(root: Path) -> tuple[str, Path]:
    """A map key that is an array (unhashable once decoded)."""
    return neighbour_run(root, "array_map_key", [
        pack(int(R.HISTORY), T0 + 0.5, {"step": 50, "data": {(1, 2): 1.0}}),
    ])


@case(neighbours=True)
def body_not_map(root: Path) -> tuple[str, Path]:
    """Bodies that are not maps: a list, an int, a str, nil, data as a list, step a str."""
    return neighbour_run(root, "body_not_map", [
        pack(int(R.HISTORY), T0 + 0.5, [1, 2, 3]),
        pack(int(R.CONFIG), T0 + 0.5, 7),
        pack(int(R.SUMMARY), T0 + 0.5, "summary"),
        pack(int(R.RUN), T0 + 0.5, None),
        pack(int(R.EXIT), T0 + 0.5, {"code": "x", "status": 5}),
        pack(int(R.FILE), T0 + 0.5, {"path": 42}),
        pack(int(R.CONSOLE), T0 + 0.5, {"stream": 1, "text": b"bytes"}),
        pack(int(R.HISTORY), T0 + 0.5, {"step": 50, "data": [1.0]}),
        pack(int(R.HISTORY), T0 + 0.5, {"step": "fifty", "data": {"x": 1.0}}),
        pack(int(R.HISTORY), T0 + 0.5, {"data": {"x": 1.0}}),
    ])


@case(neighbours=True)
def type_bool(root: Path) -> tuple[str, Path]:
    """A record whose type is ``true`` (== 1 == RUN in Python)."""
    return neighbour_run(root, "type_bool", [pack(True, T0 + 0.5, {"host": "bool"})])


@case(neighbours=True)
def type_negative(root: Path) -> tuple[str, Path]:
    """Record types -1 and -2**63."""
    return neighbour_run(root, "type_negative", [pack(-1, T0 + 0.5, {"x": 1}),
                                                 pack(-(2**63), T0 + 0.5, {"x": 1})])


@case(neighbours=True)
def type_unknown(root: Path) -> tuple[str, Path]:
    """Record types 99 and 2**64-1 (unknown: kept and skipped with a note)."""
    return neighbour_run(root, "type_unknown", [pack(99, T0 + 0.5, {"x": 1}),
                                                pack(2**64 - 1, T0 + 0.5, {"x": 1})])


@case(neighbours=True)
def type_float(root: Path) -> tuple[str, Path]:
    """A record whose type is 3.0 (a float that equals HISTORY)."""
    return neighbour_run(root, "type_float",
                         [pack(3.0, T0 + 0.5, {"step": 50, "data": {"x": 1.0}})])


@case(neighbours=True)
def record_not_triple(root: Path) -> tuple[str, Path]:
    """Records that are a map, a 2-array, a 4-array and a bare int."""
    return neighbour_run(root, "record_not_triple", [
        msgpack.packb({"type": 3}), msgpack.packb([3, T0]),
        msgpack.packb([3, T0, {}, "extra"]), msgpack.packb(7),
    ])


@case(neighbours=True)
def step_u64_max(root: Path) -> tuple[str, Path]:
    """A history row at step 2**64-1 (msgpack's largest uint; MLflow's step is int64)."""
    return neighbour_run(root, "step_u64_max", [history(2**64 - 1, ts=T0 + 0.5, big=1.0)])


@case(neighbours=True)
def step_float_2_64(root: Path) -> tuple[str, Path]:
    """A history row whose step is the float 2.0**64."""
    return neighbour_run(root, "step_float_2_64", [
        pack(int(R.HISTORY), T0 + 0.5, {"step": 2.0**64, "data": {"big": 1.0}}),
    ])


@case(neighbours=True)
def step_negative(root: Path) -> tuple[str, Path]:
    """History rows at step -1 and -2**63."""
    return neighbour_run(root, "step_negative", [history(-1, ts=T0 + 0.5, neg=1.0),
                                                 history(-(2**63), ts=T0 + 0.5, neg=2.0)])


@case(neighbours=True)
def sdk_step_2_64(root: Path) -> tuple[str, Path]:
    """What the SDK writes for ``log(..., step=2**64)`` between good rows (issue 12:
    every later row became unpackable). The SDK may refuse the call instead."""
    return sdk_child(root, "sdk_step_2_64", 'logwriter.log({"big": 1.0}, step=2**64)\n')


@case(neighbours=True)
def invalid_utf8(root: Path) -> tuple[str, Path]:
    """msgpack str payloads that are not UTF-8: an encoded lone surrogate (CESU),
    0xFF, in a metric key, a string value, console text and the RUN argv."""
    sur = raw_str(b"x\xed\xa0\x80y")
    bad = raw_str(b"\xff\xfe")
    return neighbour_run(root, "invalid_utf8", [
        splice(int(R.HISTORY), T0 + 0.5, {"step": 50, "data": {"s": _PLACEHOLDER}}, sur),
        splice(int(R.SUMMARY), T0 + 0.5, {"note": _PLACEHOLDER}, bad),
        splice(int(R.CONSOLE), T0 + 0.5, {"stream": "stdout", "text": _PLACEHOLDER}, sur),
        splice(int(R.RUN), T0 + 0.5, {"host": "h", "argv": [_PLACEHOLDER]}, bad),
        # a key, not a value: the placeholder str sits where the key is
        pack(int(R.HISTORY), T0 + 0.5, {"step": 51, "data": {_PLACEHOLDER: 1.0}}).replace(
            msgpack.packb(_PLACEHOLDER), sur),
    ])


@case(neighbours=True)
def sdk_surrogates(root: Path) -> tuple[str, Path]:
    """Lone surrogates through the SDK: what Python gives for non-UTF-8 argv,
    file names and surrogateescape stdout (issue 12: lost the RUN record, the
    console lines next to them, the whole summary)."""
    return sdk_child(root, "sdk_surrogates", """\
        logwriter.log({"k\\udcff": 1.0, "s": "v\\ud800"})
        logwriter.config.update({"c\\udcff": "x\\udcff"})
        logwriter.summary["sum\\udcff"] = "\\udcff"
        print("console \\udcff line", flush=True)
    """)


@case(neighbours=True)
def ext_and_bin(root: Path) -> tuple[str, Path]:
    """msgpack ext values and bin values in history data and config."""
    return neighbour_run(root, "ext_and_bin", [
        pack(int(R.HISTORY), T0 + 0.5, {"step": 50, "data": {
            "ext": msgpack.ExtType(5, b"\x00\x01"), "bin": b"\x00\xff",
            "ts_ext": msgpack.Timestamp(0, 5)}}),
        pack(int(R.CONFIG), T0 + 0.5, {"blob": b"\x00" * 100, "ext": msgpack.ExtType(1, b"x")}),
    ])


@case(neighbours=True)
def odd_values(root: Path) -> tuple[str, Path]:
    """NaN, infinities, 1e308, -0.0, bools, None, lists, huge ints as metric values;
    a metric name MLflow refuses (``top@1``) and one of 1000 characters."""
    return neighbour_run(root, "odd_values", [
        pack(int(R.HISTORY), T0 + 0.5, {"step": 50, "data": {
            "nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "big": 1e308,
            "negzero": -0.0, "flag": True, "none": None, "list": [1, 2], "bigint": 2**64 - 1,
            "top@1": 0.5, "k" * 1000: 1.0, "": 2.0, "a/b": 1.0}}),
        pack(int(R.CONFIG), T0 + 0.5, {"long": "x" * 10_000, "a/b": 1, "a": {"b": 2}}),
    ])


@case()
def many_refused_names(root: Path) -> tuple[str, Path]:
    """300 rows each with a metric name MLflow refuses next to a good one (the
    bisection slow path of issue 12); finishes in seconds when handled well."""
    name = "many_refused_names"
    rd = make_dir(root, name)
    rows = [history(s, **{"ok": float(s), "top@1": float(s)}) for s in range(300)]
    write_segment(rd, [*start_records(), *rows, exit_record()])
    return name, rd


# ---------------------------------------------------------------- layout


@case()
def log_symlink_loop(root: Path) -> tuple[str, Path]:
    """log/ is a symlink to itself (ELOOP on every access)."""
    name = "log_symlink_loop"
    rd = make_dir(root, name, log=False)
    os.symlink("log", rd / "log")
    return name, rd


@case()
def log_symlink_cycle(root: Path) -> tuple[str, Path]:
    """log/ holds a symlink to its own parent dir, named like a segment, and a
    directory symlink loop (``log/sub -> ..``)."""
    name = "log_symlink_cycle"
    rd = make_dir(root, name)
    good_log(rd)
    os.symlink("..", rd / "log" / "sub")
    os.symlink(".", rd / "log" / segment_name(1000))
    return name, rd


@case()
def log_is_file(root: Path) -> tuple[str, Path]:
    """log is a regular file."""
    name = "log_is_file"
    rd = make_dir(root, name, log=False)
    (rd / "log").write_bytes(b"not a directory\n")
    return name, rd


@case()
def log_missing(root: Path) -> tuple[str, Path]:
    """run.json and no log/ at all."""
    name = "log_missing"
    return name, make_dir(root, name, log=False)


@case()
def empty_dir(root: Path) -> tuple[str, Path]:
    """An empty directory: not a run (exit 2, one line)."""
    name = "empty_dir"
    rd = root / name
    rd.mkdir(parents=True, exist_ok=True)
    return name, rd


@case()
def empty_log(root: Path) -> tuple[str, Path]:
    """run.json and an empty log/ (a crash right after init)."""
    name = "empty_log"
    return name, make_dir(root, name)


@case(neighbours=True)
def segment_zero_length(root: Path) -> tuple[str, Path]:
    """A good segment followed by a zero-length one (a crash right after creating it)."""
    name = "segment_zero_length"
    rd = make_dir(root, name)
    good_log(rd)
    (rd / "log" / segment_name(len(around([])))).write_bytes(b"")
    return name, rd


@case()
def segment_zero_length_first(root: Path) -> tuple[str, Path]:
    """A zero-length first segment, then a good one at seq 100."""
    name = "segment_zero_length_first"
    rd = make_dir(root, name)
    (rd / "log" / segment_name(0)).write_bytes(b"")
    write_segment(rd, around([]), base_seq=100)
    return name, rd


@case()
def segment_header_only(root: Path) -> tuple[str, Path]:
    """A segment of exactly its 32-byte header."""
    name = "segment_header_only"
    rd = make_dir(root, name)
    (rd / "log" / segment_name(0)).write_bytes(SegmentHeader.new(0, salt=1).encode())
    return name, rd


@case()
def segment_short_header(root: Path) -> tuple[str, Path]:
    """A segment of 10 bytes (a torn header)."""
    name = "segment_short_header"
    rd = make_dir(root, name)
    (rd / "log" / segment_name(0)).write_bytes(SegmentHeader.new(0, salt=1).encode()[:10])
    return name, rd


@case()
def segment_garbage(root: Path) -> tuple[str, Path]:
    """64 KiB of random bytes named like a segment."""
    name = "segment_garbage"
    rng = random.Random(name)
    rd = make_dir(root, name)
    (rd / "log" / segment_name(0)).write_bytes(bytes(rng.randrange(256) for _ in range(65536)))
    return name, rd


@case()
def segment_is_dir(root: Path) -> tuple[str, Path]:
    """A directory named like a segment, before a good segment."""
    name = "segment_is_dir"
    rd = make_dir(root, name)
    (rd / "log" / segment_name(0)).mkdir()
    write_segment(rd, around([]), base_seq=100)
    return name, rd


@case()
def segment_symlink_outside(root: Path) -> tuple[str, Path]:
    """A segment that is a symlink to /etc/passwd."""
    name = "segment_symlink_outside"
    rd = make_dir(root, name)
    os.symlink("/etc/passwd", rd / "log" / segment_name(0))
    return name, rd


@case()
def segment_unreadable(root: Path) -> tuple[str, Path]:
    """A good segment with mode 000 (no effect when run as root)."""
    name = "segment_unreadable"
    rd = make_dir(root, name)
    good_log(rd).chmod(0)
    return name, rd


@case()
def segment_odd_names(root: Path) -> tuple[str, Path]:
    """Files in log/ that look almost like segments: short, 21-digit, upper-case."""
    name = "segment_odd_names"
    rd = make_dir(root, name)
    good_log(rd)
    seg = rd / "log" / segment_name(0)
    for odd in ("0.seg", "9" * 21 + ".seg", "00000000000000000000.SEG", ".seg", "x.seg.tmp"):
        (rd / "log" / odd).write_bytes(seg.read_bytes())
    return name, rd


@case()
def segment_overlap(root: Path) -> tuple[str, Path]:
    """Two segments whose seq ranges overlap (bases 0 and 5, 17 records each)."""
    name = "segment_overlap"
    rd = make_dir(root, name)
    write_segment(rd, around([]), base_seq=0)
    write_segment(rd, around([]), base_seq=5)
    return name, rd


@case()
def segment_seq_near_max(root: Path) -> tuple[str, Path]:
    """A segment at base_seq 2**64-5 whose records run past u64 max."""
    name = "segment_seq_near_max"
    rd = make_dir(root, name)
    write_segment(rd, around([]), base_seq=2**64 - 5)
    return name, rd


@case()
def sync_is_file(root: Path) -> tuple[str, Path]:
    """sync/ is a regular file (the syncer cannot keep its checkpoint)."""
    name = "sync_is_file"
    rd = make_dir(root, name)
    good_log(rd)
    (rd / "sync").write_text("not a dir")
    return name, rd


@case()
def sync_garbage(root: Path) -> tuple[str, Path]:
    """sync/ full of garbage checkpoints, including one for every 127.0.0.1 name shape."""
    name = "sync_garbage"
    rd = make_dir(root, name)
    good_log(rd)
    (rd / "sync").mkdir()
    for i, junk in enumerate([b"\x00\xff", b"[]", b'{"seq": "x"}', b'{"seq": 1e999}', b"null"]):
        (rd / "sync" / f"mlflow-junk{i}.json").write_bytes(junk)
    return name, rd


# ---------------------------------------------------------------- files/ escapes


def _file_record(path: str) -> bytes:
    return pack(int(R.FILE), T0 + 0.5, {"path": path, "size": 1, "sha256": "0" * 64,
                                        "policy": "now"})


@case(neighbours=True, escape=True)
def files_symlink_file(root: Path) -> tuple[str, Path]:
    """files/passwd_link -> /etc/passwd, with a FILE record naming it; and a
    good files/ok.txt. Only ok.txt may reach the server."""
    name = "files_symlink_file"
    rd = make_dir(root, name)
    (rd / "files" / "ok.txt").write_text("fine\n")
    os.symlink("/etc/passwd", rd / "files" / "passwd_link")
    write_segment(rd, around([_file_record("ok.txt"), _file_record("passwd_link")]))
    return name, rd


@case(neighbours=True, escape=True)
def files_symlink_dir(root: Path) -> tuple[str, Path]:
    """files/etc_link -> /etc (a directory), with FILE records for the link and
    for files through it (etc_link/passwd, etc_link/hostname)."""
    name = "files_symlink_dir"
    rd = make_dir(root, name)
    (rd / "files" / "ok.txt").write_text("fine\n")
    os.symlink("/etc", rd / "files" / "etc_link")
    write_segment(rd, around([_file_record("ok.txt"), _file_record("etc_link"),
                              _file_record("etc_link/passwd"), _file_record("etc_link/hostname")]))
    return name, rd


@case(neighbours=True, escape=True)
def file_record_dotdot(root: Path) -> tuple[str, Path]:
    """FILE records whose path climbs out: ``../../../../etc/passwd``,
    ``sub/../../run.json``, an absolute ``/etc/passwd``, and a NUL byte."""
    name = "file_record_dotdot"
    rd = make_dir(root, name)
    (rd / "files" / "ok.txt").write_text("fine\n")
    (rd / "files" / "sub").mkdir()
    write_segment(rd, around([_file_record("ok.txt"), _file_record("../" * 12 + "etc/passwd"),
                              _file_record("sub/../../run.json"), _file_record("/etc/passwd"),
                              _file_record("ok\x00.txt")]))
    return name, rd


@case(escape=True)
def files_is_file(root: Path) -> tuple[str, Path]:
    """files is a regular file, and a FILE record names a path under it."""
    name = "files_is_file"
    rd = make_dir(root, name, files=False)
    (rd / "files").write_text("not a dir")
    write_segment(rd, around([_file_record("ok.txt")]))
    return name, rd


@case(escape=True)
def files_record_is_dir(root: Path) -> tuple[str, Path]:
    """A FILE record naming a directory inside files/ that holds a symlink out."""
    name = "files_record_is_dir"
    rd = make_dir(root, name)
    (rd / "files" / "d").mkdir()
    os.symlink("/etc/passwd", rd / "files" / "d" / "passwd")
    write_segment(rd, around([_file_record("d"), _file_record("d/passwd")]))
    return name, rd
