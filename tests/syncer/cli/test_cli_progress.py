"""The batch commands' progress line (syncer.cli.progress), fed the way sync feeds it."""

from __future__ import annotations

import io

from syncer.cli.sync import SyncProgress
from syncer.engine.result import SyncResult


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sync_progress_counts_each_run_once_from_its_running_result() -> None:
    out = Tty()
    p = SyncProgress(2, stream=out)
    a, b = SyncResult(run_dir="runs/a"), SyncResult(run_dir="runs/b")
    a.points = 300
    p.update(a)
    a.points = 1000  # a's second report: only the 700 new points count
    p.update(a)
    b.points = 50
    p.finished(b)
    p.finished(a)
    p.close()
    assert p.points == 1050 and p.done == 2
    assert "\rsync 2/2 runs  1,050 points" in out.getvalue() and out.getvalue()[-1] == "\n"


def test_a_line_per_run_when_stderr_is_no_terminal_and_nothing_when_quiet() -> None:
    out = io.StringIO()
    p = SyncProgress(1, stream=out)
    r = SyncResult(run_dir="runs/a", run_id="a", status="synced", points=7)
    p.finished(r)
    p.close()
    assert out.getvalue().startswith("[1/1] a: synced 7 points ")
    quiet = io.StringIO()
    q = SyncProgress(1, stream=quiet, quiet=True)
    q.finished(r)
    q.close()
    assert quiet.getvalue() == "" and q.points == 7
