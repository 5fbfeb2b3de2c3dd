"""``init(sync_tensorboard=True)``: what a real SummaryWriter writes lands in the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

import logwriter
from logwriter_util import QUIET, history, merged, of_kind, read_clean, read_run, wait_until


def test_tensorboardx_scalars_become_history_at_their_steps(tmp_path: Path) -> None:
    from tensorboardX import SummaryWriter

    run = logwriter.init(project="tb", dir=tmp_path / "runs", sync_tensorboard=True, **QUIET)
    w = SummaryWriter(str(tmp_path / "tb" / "train"), flush_secs=1)
    val = SummaryWriter(str(tmp_path / "tb" / "val"), flush_secs=3600)
    try:
        for step in range(50):
            w.add_scalar("loss", 1.0 / (step + 1), 2 * step)
        # Read while the run is alive (tensorboardX writes the file every flush_secs).
        wait_until(lambda: len(of_kind(read_run(run.run_dir)[0], "history")) == 50,
                   "rows read from the live event file")
        val.add_scalar("loss", 0.5, 98)
        w.add_text("note", "hi", 3)
        w.add_hparams({"lr": 0.1}, {"hparam/acc": 0.9})
        # Still in the writers' memory (flush_secs=3600): finish() flushes them, reads again.
        run.finish()
    finally:
        w.close()
        val.close()
    records = read_clean(run.run_dir)
    rows = [r for r in records if r.kind == "history"]
    train = [(r.body["step"], r.body["data"]["loss"]) for r in rows if "loss" in r.body["data"]]
    assert train == [(2 * s, float(np.float32(1.0 / (s + 1)))) for s in range(50)]
    assert history(records)[98] == {"val/loss": 0.5}
    assert history(records)[0] == {"hparam/acc": float.fromhex("0x1.ccccccp-1")}  # float32 0.9
    assert merged(records, "config") == {"lr": 0.1}
    assert merged(records, "summary") == {"loss": float(np.float32(1 / 50)), "val/loss": 0.5,
                                          "hparam/acc": float.fromhex("0x1.ccccccp-1")}
    assert [b["text"] for b in of_kind(records, "console")] == ["note (step 3): hi\n"]
    assert all(r.ts > 1e9 for r in rows)
    assert not [t for t in threading.enumerate() if t.name.startswith("runwal-tensorboard")]


def test_torch_writer_imported_after_init(tmp_path: Path) -> None:
    """torch.utils.tensorboard imported after init(): patched when it is imported."""
    script = textwrap.dedent(f"""
        import sys, warnings
        import logwriter
        assert "tensorboard.summary.writer.event_file_writer" not in sys.modules
        run = logwriter.init(dir={str(tmp_path / "runs")!r}, id="t1", sync_tensorboard=True,
                             capture_console=False, stats_interval=0)
        warnings.simplefilter("ignore")
        import numpy as np
        from torch.utils.tensorboard import SummaryWriter
        w = SummaryWriter({str(tmp_path / "tb")!r})
        for step in range(30):
            w.add_scalar("acc", step / 30, step)
        w.add_image("img", np.zeros((3, 2, 2), dtype=np.uint8), 5)
        w.add_histogram("h", np.arange(4.0), 6)
        run.finish()
        w.close()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = read_clean(tmp_path / "runs" / "t1")
    assert [(s, d) for s, d in history(records).items()] == [
        (s, {"acc": float(np.float32(s / 30))}) for s in range(30)]
    media = {m["kind"]: m for m in of_kind(records, "media")}
    image = media["image"]["items"][0]
    assert (tmp_path / "runs" / "t1" / "files" / image["file"]).read_bytes()[:4] == b"\x89PNG"
    assert media["histogram"]["step"] == 6


def test_without_sync_tensorboard_nothing_is_read(tmp_path: Path) -> None:
    from tensorboardX import SummaryWriter

    run = logwriter.init(dir=tmp_path / "runs", **QUIET)
    w = SummaryWriter(str(tmp_path / "tb"))
    w.add_scalar("x", 1.0, 0)
    w.close()
    run.finish()
    assert of_kind(read_clean(run.run_dir), "history") == []
