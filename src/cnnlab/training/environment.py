"""``environment.json``: what a run ran on, so that a result can be traced and reproduced."""

from __future__ import annotations

import os
import platform
import socket
import sys
from typing import Any

import numpy as np
import torch

from cnnlab import __version__
from cnnlab.training.config import TrainConfig
from cnnlab.training.hardware import Hardware, cpu_instruction_sets, precision, precision_note
from cnnlab.training.run_data import RunData


def describe_environment(config: TrainConfig, hardware: Hardware, data: RunData) -> dict[str, Any]:
    return {
        "versions": {
            "cnnlab": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        },
        "machine": {
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "instruction_sets": cpu_instruction_sets(),
        },
        "device": {
            "device": str(hardware.device),
            "name": _device_name(hardware.device),
            "threads": hardware.threads,
            "amp": str(hardware.amp_dtype).removeprefix("torch.") if hardware.amp_dtype else None,
            # What it trained in, and why: --amp on a CPU without bfloat16 kernels falls back to float32.
            "precision": precision(hardware),
            "precision_note": precision_note(config, hardware),
            "channels_last": hardware.channels_last,
            "deterministic": hardware.deterministic,
        },
        "seed": config.seed,
        "data": data.describe(),
        "command": sys.argv,
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()
