"""SystemMonitor: sane samples, a thread that emits and stops, failures that stay quiet."""

from __future__ import annotations

import math
import os
import queue
import threading

import pytest

from logwriter.machine.monitor import THREAD_NAME, SystemMonitor

BASE_KEYS = {
    "cpu_utilization_percentage",
    "system_memory_usage_megabytes",
    "system_memory_usage_percentage",
    "disk_usage_percentage",
    "disk_usage_megabytes",
    "disk_available_megabytes",
    "network_receive_megabytes",
    "network_transmit_megabytes",
    "process_cpu_percentage",
    "process_memory_rss_megabytes",
    "process_threads",
}
GPU_SUFFIXES = {
    "utilization_percentage",
    "memory_usage_megabytes",
    "memory_usage_percentage",
    "power_usage_watts",
    "power_usage_percentage",
    "temperature_celsius",
}


def _ignore(_: dict[str, float]) -> None:
    pass


def test_sample_has_mlflow_names_and_sane_values() -> None:
    mon = SystemMonitor(_ignore)
    mon.prime()
    # Burn a little CPU between priming and sampling so the deltas are non-trivial.
    sum(i * i for i in range(200_000))
    data = mon.sample()
    assert set(data) >= BASE_KEYS, BASE_KEYS - set(data)
    extra = set(data) - BASE_KEYS
    for key in extra:  # only per-GPU keys may be added, and only in MLflow's shape
        assert key.startswith("gpu_"), key
        index, _, suffix = key[4:].partition("_")
        assert index.isdigit() and suffix in GPU_SUFFIXES, key
    for key, value in data.items():
        assert type(value) is float, key
        assert math.isfinite(value), key
        assert value >= 0.0 or key.startswith("network_"), (key, value)
    for key in (
        "cpu_utilization_percentage",
        "system_memory_usage_percentage",
        "disk_usage_percentage",
    ):
        assert 0.0 <= data[key] <= 100.0, (key, data[key])
    assert data["process_memory_rss_megabytes"] > 1.0  # a Python process is at least a few MB
    assert data["process_threads"] >= 1.0
    assert data["disk_usage_megabytes"] + data["disk_available_megabytes"] > 0.0
    # Some GPUs do not support every NVML query (power on older boards): only those may fail.
    assert all(k.startswith("gpu_") for k in mon.errors), mon.errors
    mon.stop()  # never started: still fine, releases NVML if sample() opened it


def test_no_gpu_means_no_gpu_keys_and_no_error() -> None:
    """This CI machine has no NVIDIA driver: NVML failing must be silent."""
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present here")
    except pynvml.NVMLError:
        pass
    mon = SystemMonitor(_ignore)
    data = mon.sample()
    assert not any(k.startswith("gpu_") for k in data)
    assert mon.errors == {}
    mon.stop()


def test_thread_emits_and_stops_promptly() -> None:
    got: queue.Queue[dict[str, float]] = queue.Queue()
    mon = SystemMonitor(got.put, interval=0.05)
    mon.start()
    names = [t.name for t in threading.enumerate()]
    assert THREAD_NAME in names
    first = got.get(timeout=10)
    assert "cpu_utilization_percentage" in first
    mon.stop()
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]
    mon.stop()  # idempotent


def test_stop_wakes_a_long_interval_at_once() -> None:
    """With a one-hour interval the thread sleeps in Event.wait; stop must not wait it out."""
    emitted: list[dict[str, float]] = []
    mon = SystemMonitor(emitted.append, interval=3600.0)
    mon.start()
    mon.start()  # second start is a no-op, not a second thread
    assert [t.name for t in threading.enumerate()].count(THREAD_NAME) == 1
    mon.stop(timeout=5.0)
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]
    assert emitted == []  # stopped before the first tick: nothing emitted


def test_emit_errors_do_not_kill_the_thread() -> None:
    calls: queue.Queue[int] = queue.Queue()

    def bad_emit(_: dict[str, float]) -> None:
        calls.put(1)
        raise RuntimeError("the writer is having a bad day")

    mon = SystemMonitor(bad_emit, interval=0.02)
    mon.start()
    for _ in range(3):  # three ticks means the thread survived two raising emits
        calls.get(timeout=10)
    mon.stop()
    assert mon.errors.get("emit", 0) >= 2
    assert mon.error_count >= 2


def test_stop_from_inside_emit_does_not_deadlock() -> None:
    done = threading.Event()
    mon: SystemMonitor

    def emit(_: dict[str, float]) -> None:
        mon.stop()
        done.set()

    mon = SystemMonitor(emit, interval=0.02)
    mon.start()
    assert done.wait(10)
    mon.stop()
    # the conftest fixture fails this test if the thread is still alive


def test_bad_disk_path_and_other_pid_mean_fewer_keys_not_exceptions(tmp_path: str) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        missing = os.path.join(str(tmp_path), "missing")
        mon = SystemMonitor(_ignore, disk_path=missing, pid=child.pid)
        data = mon.sample()
    finally:
        child.kill()
        child.wait()
    assert "disk_usage_percentage" not in data
    assert {k: v for k, v in mon.errors.items() if not k.startswith("gpu_")} == {"disk": 1}
    assert "cpu_utilization_percentage" in data
    assert data["process_threads"] >= 1.0  # the child's numbers, read through its pid
    mon.stop()


def test_vanished_pid_is_counted_not_raised() -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    mon = SystemMonitor(_ignore, pid=child.pid)
    data = mon.sample()
    assert "process_threads" not in data
    assert mon.error_count >= 1
    assert "system_memory_usage_megabytes" in data
    mon.stop()
