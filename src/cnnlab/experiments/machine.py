"""The machine an experiment ran on, as the report states it (times mean little without it)."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any

import torch

from cnnlab import __version__
from cnnlab.training import TrainConfig, choose_hardware
from cnnlab.training.hardware import available_cores


def describe_machine(device: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """CPU, cores, the device and threads a run would use, versions, and the load when asked."""
    hardware = choose_hardware(TrainConfig(device=device, threads=threads))
    return {
        "cpu": cpu_name(),
        "cores": available_cores(),
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
