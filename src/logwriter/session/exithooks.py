"""Process hooks that end runs with the right status whatever ends the process.

* atexit: finish every live run -- ``finished``, or ``failed`` (``killed`` for
  KeyboardInterrupt) when an uncaught exception went through ``sys.excepthook``
  or ``threading.excepthook`` (both are chained, never replaced).
* SIGTERM (Slurm/Kubernetes preemption): finish every run as ``preempted``
  (flushed and fsynced; an online/hybrid run waits at most
  ``PREEMPT_SYNC_WAIT`` s for its syncer, which carries on by itself, since the
  scheduler's SIGKILL follows soon), then chain to the previous handler; if that was the
  default action, restore it and re-send the signal so the process still dies
  *by SIGTERM* and the scheduler sees what it expects. Installable only from
  the main thread; elsewhere runs still get the atexit path.
* fork: in the child, every inherited run is detached (no writes through the
  parent's fd; calls warn once and do nothing). ``os.register_at_fork`` hooks
  cannot be removed, so they are installed once per process.

Hooks are installed on the first ``register()`` and stay; with no live run
they do nothing. What they need of a run is the small protocol `Hooked`: the
Run's ``finish_at_exit(exit_code, status, sync_wait=)`` and
``detach_after_fork()``; this module does not import the Run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Protocol

SIGTERM_EXIT_CODE = 128 + signal.SIGTERM
PREEMPT_SYNC_WAIT = 5.0


class Hooked(Protocol):
    """What the hooks call on a live run (logwriter.session.run.Run implements it)."""

    def finish_at_exit(self, exit_code: int, status: str, *,
                       sync_wait: float | None = None) -> None:
        """Finish with this EXIT status; problems to stderr, no warnings."""

    def detach_after_fork(self) -> None:
        """In a forked child: stop using the parent's writer and syncer."""


_runs: list[Hooked] = []
_lock = threading.RLock()
_installed = False
_sigterm_installed = False
_prev_sigterm: Any = None
_prev_excepthook = sys.excepthook
_prev_thread_excepthook = threading.excepthook
_uncaught: type[BaseException] | None = None


def register(run: Hooked) -> None:
    """Track a live run; installs the process hooks the first time."""
    with _lock:
        _install()
        if run not in _runs:
            _runs.append(run)


def unregister(run: Hooked) -> None:
    with _lock:
        if run in _runs:
            _runs.remove(run)


def live_runs() -> list[Hooked]:
    with _lock:
        return list(_runs)


def _install() -> None:
    global _installed, _prev_excepthook, _prev_thread_excepthook
    if not _installed:
        _installed = True
        atexit.register(_at_exit)
        _prev_excepthook = sys.excepthook
        sys.excepthook = _excepthook
        _prev_thread_excepthook = threading.excepthook
        threading.excepthook = _thread_excepthook
        os.register_at_fork(after_in_child=_after_fork_in_child)
    _install_sigterm()


def _install_sigterm() -> None:
    global _sigterm_installed, _prev_sigterm
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        _prev_sigterm = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter / thread
        return
    _sigterm_installed = True


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    global _uncaught
    _uncaught = exc_type
    _prev_excepthook(exc_type, exc, tb)


def _thread_excepthook(args: Any) -> None:
    global _uncaught
    if args.exc_type is not SystemExit:
        _uncaught = args.exc_type
    _prev_thread_excepthook(args)


def _finish_all(exit_code: int, status: str, sync_wait: float | None = None) -> None:
    for run in live_runs():
        with contextlib.suppress(Exception):  # one bad run must not stop the others
            run.finish_at_exit(exit_code, status, sync_wait=sync_wait)


def _at_exit() -> None:
    if _uncaught is None:
        _finish_all(0, "finished")
    elif issubclass(_uncaught, KeyboardInterrupt):
        _finish_all(130, "killed")
    else:
        _finish_all(1, "failed")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _finish_all(SIGTERM_EXIT_CODE, "preempted", PREEMPT_SYNC_WAIT)
    prev = _prev_sigterm
    if callable(prev):
        prev(signum, frame)
    elif prev == signal.SIG_IGN:
        return
    else:  # SIG_DFL, or a handler not set from Python: die by the signal
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    global _runs, _lock
    _lock = threading.RLock()  # another parent thread may have held it at fork time
    inherited, _runs = _runs, []
    for run in inherited:
        with contextlib.suppress(Exception):  # never break the child
            run.detach_after_fork()
