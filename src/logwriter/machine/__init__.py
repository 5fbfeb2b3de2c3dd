"""What runwal records about the process and machine a run runs on.

* ``metadata.py``: the RUN record: who, where and from which code;
  ``gitinfo.py``: its git facts, read from ``.git`` without running git.
* ``monitor.py``: ``SystemMonitor``, the STATS sampler (CPU, memory, disk,
  network, this process); ``gpu.py``: NVIDIA GPUs through NVML.
* ``console.py``: stdout/stderr capture into CONSOLE records.
"""
