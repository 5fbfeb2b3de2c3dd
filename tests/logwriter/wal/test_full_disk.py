"""The SDK on a really full disk: a small tmpfs that fills up mid-run, then grows.

The seams of test_reliability_logwriter_disk.py pin the bounds exactly; this is the
same promise on a real filesystem's ENOSPC: training never stops, the write error
and the drops are warned once each, what was written plus what was counted as
dropped is everything logged, nothing half-written reads as data, and logging
goes on once space comes back. save() on the full disk warns and goes on.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import logwriter
from logwriter.errors import DroppedRecordsWarning, SaveWarning, WriteErrorWarning
from logwriter_util import QUIET, history, read_clean, wait_until
from smallfs import needs_mount, small_tmpfs


@needs_mount
def test_a_full_tmpfs_drops_counts_warns_once_and_recovers(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "8m") as fs:
        run = logwriter.init(dir=fs.path / "runs", **QUIET)
        base = os.urandom(32 * 1024).hex()  # 64 KiB a row that zstd cannot squeeze
        big = tmp_path / "checkpoint.bin"  # beside the mount: save() copies it in
        big.write_bytes(os.urandom(12 * 1024 * 1024))
        n = 5000  # ~320 MiB logged into an 8 MiB disk
        t0 = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(n):
                run.log({"i": i, "blob": f"{i:08d}{base[8:]}"})
                if i == 100:
                    run.save(str(big), base_path=str(tmp_path), policy="now")
            took = time.monotonic() - t0
            dropped = run.stats()["dropped"]
            stats = run.stats()  # it really is full: the kernel said so
            assert stats["write_errors"] > 0 and "No space left" in stats["last_error"], stats
            assert fs.free() < 4 * 1024 * 1024
            fs.resize("600m")  # space comes back
            wait_until(lambda: run.stats()["queued"] == 0 and run.stats()["pending_bytes"] == 0,
                       "the writer to drain once there is space")
            for i in range(10):
                run.log({"after": i})
            run.finish()
        kinds = [type(w.message) for w in caught]
        assert kinds.count(WriteErrorWarning) == 1, kinds
        assert kinds.count(DroppedRecordsWarning) == 1, kinds
        assert kinds.count(SaveWarning) <= 1, kinds
        assert 0 < dropped < n and took < 60
        records = read_clean(run.run_dir)  # nothing torn or half-written, seqs dense, EXIT
        rows = history(records)
        kept = [d["i"] for d in rows.values() if "i" in d]
        assert kept == sorted(kept) and len(kept) + dropped == n
        assert [d["after"] for d in rows.values() if "after" in d] == list(range(10))
        assert records[-1].kind == "exit"
        saved = [r.body for r in records if r.kind == "file"]
        for body in saved:  # a FILE record names only a whole copy
            assert (Path(run.dir) / body["path"]).stat().st_size == body["size"]
        leftovers = [p.name for p in Path(run.dir).rglob("*") if ".tmp" in p.name]
        assert leftovers == []
