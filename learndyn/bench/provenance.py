"""Where a benchmark ran: library versions, device, thread count, CPU model, load."""
from __future__ import annotations

import os
import platform
import sys

import torch

__all__ = ["provenance", "load_average", "cpu_model"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str | None:
    """The 1-minute load average (other processes competing for the CPUs make every timing slower)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return None


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def provenance(device: str) -> dict:
    """Versions, device, threads and CPU of this process."""
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()
    return {
        "python": sys.version.split()[0], "torch": torch.__version__, "sympy": _version("sympy"),
        "mpmath": _version("mpmath"), "numpy": _version("numpy"), "scipy": _version("scipy"),
        "device": str(dev), "device_name": name, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(), "platform": platform.platform(), "load_before": load_average(),
    }
