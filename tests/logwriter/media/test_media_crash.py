"""kill -9 while images are being logged: no record names a file that is not whole."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from logwriter_util import damage, of_kind, read_run

CHILD = """\
import sys
import numpy as np
import logwriter
from logwriter.media import Image, Table

root, side = sys.argv[1], sys.argv[2]
run = logwriter.init(project="crash", id="crash", dir=root, mode="offline",
                     capture_console=False, stats_interval=0, flush_interval=0.02)
rng = np.random.default_rng(0)
with open(side, "w") as out:
    for step in range(100000):
        big = rng.integers(0, 256, (384, 384, 3), dtype=np.uint8)  # noise: slow to deflate
        table = Table(columns=["i", "img"], data=[[step, Image(big[:64, :64])]])
        run.log({"img": Image(big), "gallery": [Image(big[::2]), Image(big[1::2])],
                 "t": table, "loss": 1.0 / (step + 1)})
        out.write(f"{step}\\n")
        out.flush()
"""


def test_kill_9_mid_log_leaves_no_half_file_behind_a_record(tmp_path: Path) -> None:
    side = tmp_path / "steps"
    run_dir = tmp_path / "crash"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(side)])
    try:
        deadline = time.monotonic() + 60
        # killed mid-log once 12 steps are logged and 4 media records written (the
        # worker lags the steps by as much as the machine's load makes it)
        while not side.exists() or len(side.read_text().splitlines()) < 12 or len(
                of_kind(read_run(run_dir)[0], "media")) < 4:
            assert proc.poll() is None, "the child died"
            assert time.monotonic() < deadline, "the child logged too slowly"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    records, events = read_run(run_dir)
    assert damage(events) == []
    media = of_kind(records, "media")
    assert len(media) >= 4  # records come when their files are whole
    files = run_dir / "files"
    named = set()
    for body in media:
        assert "error" not in body, body
        for item in body["items"]:
            data = (files / item["file"]).read_bytes()  # there, whole, as the record says
            assert len(data) == item["size"]
            assert hashlib.sha256(data).hexdigest() == item["sha256"]
            named.add(item["file"])
    on_disk = {p.relative_to(files).as_posix() for p in (files / "media").rglob("*")
               if p.is_file() and not p.name.endswith(".tmp")}
    assert named <= on_disk  # files no record names yet are whole too (renamed complete)
    for extra in on_disk - named:
        assert hashlib.sha256((files / extra).read_bytes()).hexdigest() in extra
