"""The SDK on a really full disk: a small tmpfs that fills up mid-run, then grows.

The seams of test_reliability_logwriter_disk.py pin the bounds exactly; this is the
same promise on a real filesystem's ENOSPC: training never stops, the write error
and the drops are warned once each, what was written plus what was counted as
dropped is everything logged, nothing half-written reads as data, and logging
goes on once space comes back. save() on the full disk warns and goes on; so
do rich values and log_artifact(), which leave nothing half-stored behind.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from pathlib import Path

import logwriter
from logwriter.errors import (
    ArtifactWarning,
    DroppedRecordsWarning,
    SaveWarning,
    WriteErrorWarning,
)
from logwriter_util import QUIET, history, read_clean, wait_until
from schema.layout import RunDir
from smallfs import needs_mount, small_tmpfs
from syncer.inspect.verify import VerifyReport


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


@needs_mount
def test_media_and_artifacts_on_a_full_disk_keep_training_and_leave_no_orphans(
        tmp_path: Path) -> None:
    """Rich values that do not fit become records with an ``error`` (the row and the
    run go on); an artifact that does not fit is not logged, warns, and gives back
    what it had copied; both work again once there is space."""
    import numpy as np

    rng = np.random.default_rng(0)

    def noise() -> logwriter.Image:
        return logwriter.Image(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))

    def artifact(name: str, size: int) -> logwriter.Artifact:
        art = logwriter.Artifact(name, type="model")
        for part in range(3):  # several files: the first fit, a later one does not
            src = tmp_path / f"{name}.{part}.bin"
            src.write_bytes(os.urandom(size))
            art.add_file(str(src))
        return art

    with small_tmpfs(tmp_path / "disk", "8m") as fs:
        run = logwriter.init(dir=fs.path / "runs", **QUIET)
        assert run.log_artifact(artifact("before", 256 * 1024)).logged
        store = Path(run.dir) / "artifacts"
        stored_before = sorted(p.name for p in store.iterdir())
        filler = fs.path / "filler"
        # the job's own checkpoints fill the disk
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(os.urandom(1 << 16))
                fh.flush()
        os.truncate(filler, filler.stat().st_size - 600 * 1024)  # 600 KiB left
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            full = run.log_artifact(artifact("full", 400 * 1024))
            for i in range(30):
                run.log({"img": noise(), "i": i})
            wait_until(lambda: run.stats()["media_queued"] == 0, "the images to be stored")
        assert not full.logged and full.version is None
        kinds = [type(w.message) for w in caught]
        assert kinds.count(ArtifactWarning) == 1, kinds
        assert "disk is full" in str(next(w.message for w in caught
                                         if isinstance(w.message, ArtifactWarning)))
        # what the refused artifact copied is gone, and no temp file is left behind
        assert sorted(p.name for p in store.iterdir()) == stored_before
        filler.unlink()  # space comes back
        wait_until(lambda: run.stats()["queued"] == 0 and run.stats()["pending_bytes"] == 0,
                   "the writer to drain once there is space")
        assert run.log_artifact(artifact("after", 256 * 1024)).logged
        run.log({"img": noise(), "i": 30})
        run.finish()
        records = read_clean(run.run_dir)
        assert [r.body["name"] for r in records if r.kind == "artifact"] == ["before", "after"]
        media = [r.body for r in records if r.kind == "media"]
        failed = [m for m in media if "error" in m]
        assert failed and all("No space left" in m["error"] for m in failed), failed[:2]
        assert "error" not in media[-1]  # logging images works again
        assert sorted(history(records)[r["step"]]["i"] for r in media) == list(range(31))
        report = VerifyReport.read(RunDir(Path(run.run_dir)))
        # the log is intact; verify names each image that did not fit, nothing else
        assert report.status == "clean" and report.file_problems == len(failed), report.notes
        assert all("No space left" in n for n in report.notes), report.notes
        leftovers = [p.name for p in Path(run.run_dir).rglob("*") if "tmp" in p.name]
        assert leftovers == []
