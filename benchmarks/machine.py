"""Machine description written next to every benchmark result (the one copy; every benchmark uses it)."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform


def machine_info(device: str | None = None) -> dict:
    """CPU, memory and library versions.

    With ``device`` (a benchmark that runs PyTorch there), also torch's CPU thread count, the GPU
    when ``device`` is CUDA, and the load average.
    """
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpu_count": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            info["mem_total_gb"] = round(int(fh.readline().split()[1]) / 1e6, 1)
    except OSError:
        pass
    for pkg in ("numpy", "scipy", "highspy", "torch"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    if device is None:
        return info
    try:
        import torch  # lazy: torch is heavy and optional (only the benchmarks that run it describe it)

        info["torch_threads"] = torch.get_num_threads()
        if device.startswith("cuda") and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 1e9, 1)
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info
