"""NVIDIA GPU metrics for the system monitor, through NVML (the ``pynvml`` module).

Kept apart from monitor.py because its failure modes are its own: most
machines that run the SDK have no NVIDIA GPU, no driver, or no ``pynvml``,
and each of those must simply mean "no GPU keys", silently. The names are
MLflow's (``gpu_{i}_utilization_percentage``, ...), listed in monitor.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

_MB = 1e6


class Nvml:
    """NVML session: initialised once on first use, shut down by ``close``.

    Every failure (module missing, no driver, no device) turns into "no GPUs"
    silently, because most machines that run the SDK have no NVIDIA GPU.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tried = False
        self._ok = False
        self._nvml: Any = None
        self.handles: list[Any] = []

    def devices(self) -> list[Any]:
        with self._lock:
            if not self._tried:
                self._tried = True
                self._init()
            return self.handles

    def _init(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # ImportError, NVMLError_LibraryNotFound, DriverNotLoaded, ...
            return
        self._nvml = pynvml
        self._ok = True
        try:
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:
            self.handles = []

    def close(self) -> None:
        with self._lock:
            if self._ok:
                with contextlib.suppress(Exception):
                    self._nvml.nvmlShutdown()
            self._ok = False
            self._tried = False
            self.handles = []

    def sample(
        self, index: int, handle: Any, out: dict[str, float], fail: Callable[[str], None]
    ) -> None:
        """Add GPU ``index``'s metrics to ``out``; one failing group skips only itself."""
        nv = self._nvml
        p = f"gpu_{index}_"
        try:
            mem = nv.nvmlDeviceGetMemoryInfo(handle)
            out[p + "memory_usage_megabytes"] = mem.used / _MB
            if mem.total:
                out[p + "memory_usage_percentage"] = mem.used / mem.total * 100.0
        except Exception:
            fail(p + "memory")
        try:
            out[p + "utilization_percentage"] = float(nv.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:
            fail(p + "utilization")
        try:
            milliwatts = nv.nvmlDeviceGetPowerUsage(handle)
            out[p + "power_usage_watts"] = milliwatts / 1000.0
            limit = nv.nvmlDeviceGetEnforcedPowerLimit(handle)
            if limit:
                out[p + "power_usage_percentage"] = milliwatts / limit * 100.0
        except Exception:
            fail(p + "power")
        try:
            temp = nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)
            out[p + "temperature_celsius"] = float(temp)
        except Exception:
            fail(p + "temperature")
