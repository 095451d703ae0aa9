"""The machine an experiment ran on, as the report states it (times mean little without it).

Importing this module does not import torch: the time estimates (``cnnlab experiment list``) need
the CPU's name, kind and cores, which :func:`cpu_name`, :func:`cpu_kind` and :func:`cores` read
from the operating system.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from cnnlab import __version__

# The instruction-set classes that decide a CPU's training speed, fastest first, each with the
# /proc/cpuinfo flags that make it (see cnnlab.training.hardware.INSTRUCTION_SETS).
CPU_KINDS = (
    ("amx", {"amx_bf16", "amx_tile"}),
    ("avx512_bf16", {"avx512_bf16"}),
    ("avx512", {"avx512f", "avx512bw", "avx512vl", "avx512dq"}),
    ("avx2", {"avx2"}),
)
# The kinds on which oneDNN runs bfloat16 in native kernels (hardware.cpu_has_bfloat16_kernels
# says yes from AVX-512 on; AVX512-BF16 and AMX make it about twice float32's speed).
BFLOAT16_KINDS = {"amx", "avx512_bf16", "avx512"}


def describe_machine(device: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """CPU, cores, the device and threads a run would use, versions, and the load when asked."""
    import torch

    from cnnlab.training import TrainConfig, choose_hardware

    hardware = choose_hardware(TrainConfig(device=device, threads=threads))
    return {
        "cpu": cpu_name(),
        "cpu_kind": cpu_kind(),
        "cores": cores(),
        "device": hardware.describe(),
        "device_name": torch.cuda.get_device_name(hardware.device)
        if hardware.device.type == "cuda"
        else None,
        "threads": hardware.threads,
        "load_average": load_average(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cnnlab": __version__,
    }


def machine_summary(machine: dict[str, Any]) -> str:
    """One line: ``Intel Xeon ..., 2 cores; cpu, 2 threads, deterministic; torch 2.13.0``."""
    where = machine["device_name"] or machine["cpu"]
    load = machine.get("load_average")
    busy = f"; load average {load:.1f} at the start" if load is not None else ""
    return (
        f"{where}, {machine['cores']} cores; {machine['device']}; torch {machine['torch']}, "
        f"Python {machine['python']}, cnnlab {machine['cnnlab']}{busy}"
    )


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average, None where the system does not report one. Other processes on
    the machine slow every measured time; reports and estimates say how busy it was."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo`` on Linux; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def cpu_kind(flags: frozenset[str] | None = None) -> str:
    """The CPU's instruction-set class: ``amx``, ``avx512_bf16``, ``avx512``, ``avx2``, else
    ``other`` (no flags known: not Linux, or not x86). Two CPUs of one name can differ here (a
    cloud "AMD EPYC" may have AVX-512 or not), and it decides their speed more than the name."""
    flags = cpu_flags() if flags is None else flags
    for kind, needs in CPU_KINDS:
        if needs <= flags:
            return kind
    return "other"


def cores() -> int:
    """The cores this process may run on (respects CPU affinity), as
    :func:`cnnlab.training.hardware.available_cores` counts them, without importing torch."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def torch_version() -> str:
    """The installed torch's version (``2.13.0+cpu``), read without importing torch."""
    if "torch" in sys.modules:
        return str(sys.modules["torch"].__version__)
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def device_type(device: str = "auto") -> str:
    """The kind of device a run with ``--device DEVICE`` would use (``cpu``, ``cuda``, ``mps``).

    ``auto`` is guessed without importing torch (a torch built for CUDA and an NVIDIA driver with a
    GPU: cuda; an Apple Silicon Mac: mps; else cpu): it only chooses which recorded speeds an
    estimate uses, and a training run decides for itself (cnnlab.training.hardware).
    """
    if device != "auto":
        return device.split(":")[0]
    gpus = Path("/proc/driver/nvidia/gpus")
    if "+cpu" not in torch_version() and gpus.is_dir() and any(gpus.iterdir()):
        return "cuda"
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "mps"
    return "cpu"
