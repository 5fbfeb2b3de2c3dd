"""System metrics sampler: CPU, memory, disk, network, this process, NVIDIA GPUs.

A :class:`SystemMonitor` owns one daemon thread ("runwal-monitor") that calls
``emit(sample())`` every ``interval`` seconds. The writer turns each dict into a
``stats`` record; the syncer later prefixes every key with ``system/``, so the
names here are MLflow's own system-metric names (MLflow 3.x,
``mlflow/system_metrics/metrics/*.py``) and runs logged with runwal line up with
runs logged by MLflow's built-in monitor in the same charts.

Metric names (units follow MLflow: "megabytes" are 10**6 bytes)::

    cpu_utilization_percentage        whole machine, 0..100, since the last sample
    system_memory_usage_megabytes     virtual_memory().used
    system_memory_usage_percentage    used / total * 100 (MLflow's formula)
    disk_usage_percentage             of ``disk_path``
    disk_usage_megabytes
    disk_available_megabytes
    network_receive_megabytes         cumulative since the monitor was created
    network_transmit_megabytes        (MLflow resets to 0 at start the same way)
    process_cpu_percentage            runwal extra: like `top`, can exceed 100
    process_memory_rss_megabytes      runwal extra
    process_threads                   runwal extra
    gpu_{i}_utilization_percentage    per NVIDIA GPU i, via NVML (pynvml; see gpu.py)
    gpu_{i}_memory_usage_megabytes
    gpu_{i}_memory_usage_percentage
    gpu_{i}_power_usage_watts
    gpu_{i}_power_usage_percentage    of the enforced power limit
    gpu_{i}_temperature_celsius       runwal extra (MLflow 3.x has no temperature)

Why the care about failure: the monitor runs inside someone's training job.
No GPU, no NVIDIA driver, a container without /proc/net, a vanished disk
path: each simply means fewer keys. A sampler that raises is counted in
:attr:`SystemMonitor.errors` and skipped for that tick; nothing is printed and
no warning is issued (pytest runs with warnings as errors, and users do not
want a warning every ten seconds).

Cost: one sample is a handful of /proc reads plus a few NVML calls per GPU,
well under a millisecond without GPUs. CPU percentages are computed from
counter deltas kept on the instance (not ``psutil.cpu_percent()``, whose state
is per calling thread and shared with other users of psutil in the process);
the counters are primed in ``__init__`` so the first sample is meaningful.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from logwriter.machine.gpu import Nvml

if TYPE_CHECKING:
    import psutil
else:
    psutil = None  # imported by SystemMonitor.prime(), on the monitor thread: keeps init fast

_MB = 1e6
THREAD_NAME = "runwal-monitor"


def _busy_and_total(times: Any) -> tuple[float, float]:
    """Busy and total CPU seconds from ``psutil.cpu_times()``, as psutil computes them.

    On Linux ``guest``/``guest_nice`` are already included in ``user``/``nice``,
    so they are subtracted from the total to avoid double counting.
    """
    total = float(sum(times))
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    busy = total - times.idle - getattr(times, "iowait", 0.0)
    return busy, total


class SystemMonitor:
    """Samples system metrics on a daemon thread and hands each sample to ``emit``.

    Args:
        emit: called with one ``{name: float}`` dict per tick, on the monitor
            thread. It should only enqueue; if it raises, the error is counted
            and sampling goes on.
        interval: seconds between samples (MLflow's default is 10).
        pid: the process whose CPU/RSS/threads are reported; default this one.
        disk_path: the filesystem whose usage is reported (the run dir's is a
            good choice on clusters where / is tiny and the data is elsewhere).
    """

    def __init__(
        self,
        emit: Callable[[dict[str, float]], None],
        interval: float = 10.0,
        *,
        pid: int | None = None,
        disk_path: str = "/",
    ) -> None:
        self._emit = emit
        self._interval = max(float(interval), 0.01)
        self._disk_path = disk_path
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._nvml = Nvml()
        self.errors: dict[str, int] = {}
        """Failures per sampler group ("cpu", "disk", "gpu_0_power", "emit", ...)."""

        self._pid = pid
        self._primed = False
        self._cpu_last: tuple[float, float] | None = None
        self._net_base: tuple[float, float] | None = None
        self._process: psutil.Process | None = None

    def prime(self) -> None:
        """Import psutil and take the baselines that CPU and network deltas start from.

        Runs once, first thing on the monitor thread (or in the first ``sample()``),
        so ``init()`` never pays for importing psutil or reading /proc.
        """
        if self._primed:
            return
        self._primed = True
        global psutil
        try:
            import psutil
        except Exception:
            self._count("psutil")
            return
        try:
            self._cpu_last = _busy_and_total(psutil.cpu_times())
        except Exception:
            self._count("cpu")
        try:
            net = psutil.net_io_counters()
            self._net_base = (net.bytes_recv / _MB, net.bytes_sent / _MB)
        except Exception:
            self._count("network")
        try:
            self._process = psutil.Process(self._pid if self._pid is not None else os.getpid())
            self._process.cpu_percent(None)  # prime: the first call always returns 0.0
        except Exception:
            self._count("process")

    @property
    def error_count(self) -> int:
        """Total sampler/emit failures so far."""
        return sum(self.errors.values())

    def _count(self, group: str) -> None:
        self.errors[group] = self.errors.get(group, 0) + 1

    def start(self) -> None:
        """Start the sampling thread; a no-op if it is already running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop_event = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop_event,), name=THREAD_NAME, daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (wakes it at once), join it, release NVML. Idempotent.

        If ``emit`` is stuck for longer than ``timeout`` the daemon thread is
        left to finish that call on its own; it exits right after and never
        blocks interpreter shutdown.
        """
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop_event.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                return  # NVML stays up until the stuck tick ends; the process exits soon anyway
        self._nvml.close()

    def _loop(self, stop: threading.Event) -> None:
        self.prime()
        while not stop.wait(self._interval):
            try:
                data = self.sample()
            except Exception:  # pragma: no cover - sample() guards each group itself
                self._count("sample")
                continue
            if stop.is_set():
                break
            try:
                self._emit(data)
            except Exception:
                self._count("emit")

    def sample(self) -> dict[str, float]:
        """Take one sample now, synchronously. Never raises; failures mean fewer keys."""
        self.prime()
        if psutil is None:
            return {}
        out: dict[str, float] = {}
        self._sample_cpu(out)
        self._sample_memory(out)
        self._sample_disk(out)
        self._sample_network(out)
        self._sample_process(out)
        try:
            handles = self._nvml.devices()
        except Exception:
            handles = []
            self._count("gpu")
        for i, handle in enumerate(handles):
            self._nvml.sample(i, handle, out, self._count)
        return {k: float(v) for k, v in out.items() if math.isfinite(v)}

    def _sample_cpu(self, out: dict[str, float]) -> None:
        try:
            now = _busy_and_total(psutil.cpu_times())
        except Exception:
            self._count("cpu")
            return
        last, self._cpu_last = self._cpu_last, now
        if last is None:
            return
        d_busy, d_total = now[0] - last[0], now[1] - last[1]
        # No elapsed ticks (two samples within one jiffy): report 0 like psutil does.
        pct = 0.0 if d_total <= 0 else min(max(d_busy / d_total * 100.0, 0.0), 100.0)
        out["cpu_utilization_percentage"] = pct

    def _sample_memory(self, out: dict[str, float]) -> None:
        try:
            vm = psutil.virtual_memory()
            out["system_memory_usage_megabytes"] = vm.used / _MB
            out["system_memory_usage_percentage"] = vm.used / vm.total * 100.0
        except Exception:
            self._count("memory")

    def _sample_disk(self, out: dict[str, float]) -> None:
        try:
            du = psutil.disk_usage(self._disk_path)
            out["disk_usage_percentage"] = float(du.percent)
            out["disk_usage_megabytes"] = du.used / _MB
            out["disk_available_megabytes"] = du.free / _MB
        except Exception:
            self._count("disk")

    def _sample_network(self, out: dict[str, float]) -> None:
        if self._net_base is None:
            return
        try:
            net = psutil.net_io_counters()
            out["network_receive_megabytes"] = net.bytes_recv / _MB - self._net_base[0]
            out["network_transmit_megabytes"] = net.bytes_sent / _MB - self._net_base[1]
        except Exception:
            self._count("network")

    def _sample_process(self, out: dict[str, float]) -> None:
        proc = self._process
        if proc is None:
            return
        try:
            with proc.oneshot():
                out["process_cpu_percentage"] = proc.cpu_percent(None)
                out["process_memory_rss_megabytes"] = proc.memory_info().rss / _MB
                out["process_threads"] = float(proc.num_threads())
        except Exception:
            self._count("process")
