"""Where and how a run computes: device, mixed precision, memory format, threads, determinism.

The choices are made once from the settings (:func:`choose_hardware`) and applied for the duration
of a run by :func:`hardware_context`, which restores PyTorch's global flags afterwards, so calling
:func:`cnnlab.train` from a notebook leaves the session as it was.

Determinism. On CPU, PyTorch's kernels give the same bits for the same inputs and thread count, so
``deterministic`` is on by default and costs nothing measurable. On CUDA, cuDNN's fastest
convolution algorithms and atomics-based reductions are not bit-reproducible; ``--deterministic``
selects deterministic kernels (``torch.use_deterministic_algorithms``, cuDNN benchmark off,
``CUBLAS_WORKSPACE_CONFIG``). They are slower (by how much depends on the model; see
docs/training.md), so it is off by default there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from cnnlab.errors import ConfigError
from cnnlab.training.allocator import keep_freed_memory
from cnnlab.training.config import TrainConfig

# The cuBLAS workspace setting that makes its GEMMs deterministic (PyTorch's reproducibility notes).
CUBLAS_DETERMINISTIC = ":4096:8"


@dataclass(frozen=True)
class Hardware:
    device: torch.device
    amp_dtype: torch.dtype | None  # None: full float32
    channels_last: bool
    deterministic: bool
    threads: int

    @property
    def needs_grad_scaler(self) -> bool:
        """float16 gradients underflow without loss scaling; bfloat16 has float32's range."""
        return self.amp_dtype == torch.float16

    def describe(self) -> str:
        parts = [str(self.device)]
        if self.device.type == "cpu":
            parts.append(f"{self.threads} threads")
        if self.amp_dtype is not None:
            parts.append(f"amp {str(self.amp_dtype).removeprefix('torch.')}")
        if self.channels_last:
            parts.append("channels_last")
        parts.append("deterministic" if self.deterministic else "non-deterministic")
        return ", ".join(parts)


def choose_hardware(config: TrainConfig) -> Hardware:
    """The device and options the settings ask for; ConfigError when the device is absent."""
    device = _device(config.device)
    on_cuda = device.type == "cuda"
    use_amp = config.amp if config.amp is not None else on_cuda
    amp_dtype = _amp_dtype(device) if use_amp else None
    return Hardware(
        device=device,
        amp_dtype=amp_dtype,
        channels_last=config.channels_last if config.channels_last is not None else on_cuda,
        deterministic=config.deterministic if config.deterministic is not None else not on_cuda,
        threads=config.threads or available_cores(),
    )


def fit_to_model(hardware: Hardware, config: TrainConfig, model: torch.nn.Module) -> Hardware:
    """Settle the choices that depend on the network: unless the settings say otherwise,
    channels_last is on exactly for networks with 2-d convolutions.

    channels_last (NHWC) is the layout oneDNN's and cuDNN's convolutions work in, so PyTorch skips
    converting every activation to and from it. Measured on a 2-core AVX-512 CPU (the step
    breakdown in benchmarks/README.md): a training step 1.13x (ResNet-18), 1.16x (tutorial CNN) and
    1.30x (speedrun net) faster than in the default layout. A network without convolutions keeps
    the default: it has nothing to gain, and its flatten would have to copy.
    """
    if config.channels_last is not None:
        return hardware
    has_convolutions = any(isinstance(module, torch.nn.Conv2d) for module in model.modules())
    return dataclasses.replace(hardware, channels_last=has_convolutions)


def precision(hardware: Hardware) -> str:
    """What a run computes in: ``bfloat16`` or ``float16`` under autocast, else ``float32``."""
    return str(hardware.amp_dtype).removeprefix("torch.") if hardware.amp_dtype else "float32"


def precision_note(config: TrainConfig, hardware: Hardware) -> str:
    """Why the run computes in :func:`precision`: asked for, the fallback, or the default."""
    if config.amp and hardware.amp_dtype is None:
        return "amp asked for, but this CPU has no fast bfloat16 kernels: float32 (the fallback)"
    if config.amp:
        return "amp asked for"
    return "amp off" if config.amp is False else "the device's default"


# The instruction sets that decide a CPU's speed here: AVX2 (float32 everywhere), AVX-512F (oneDNN's
# wider float32 kernels), AVX512-BF16 and AMX (fast bfloat16; without them --amp means float32).
INSTRUCTION_SETS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_instruction_sets() -> dict[str, object]:
    """Which of :data:`INSTRUCTION_SETS` this CPU has (``/proc/cpuinfo`` flags, Linux), and the
    vector capability PyTorch's own kernels dispatch to (``torch.backends.cpu``)."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.partition(":")[2].split())
                    break
    except OSError:
        pass  # not Linux: the flags are unknown, torch's capability still says something
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: None)()
    return {
        "flags": [name for name in INSTRUCTION_SETS if name in flags],
        "torch_capability": capability,
        "bfloat16_kernels": cpu_has_bfloat16_kernels(),
    }


def cpu_has_bfloat16_kernels() -> bool:
    """True where oneDNN has fast bfloat16 kernels (AVX-512 CPUs; twice float32's speed with
    AVX512-BF16 or AMX). Elsewhere a CPU run with ``amp`` trains in float32 instead."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 where the device has it (no loss scaling needed), else float16 on a GPU; on a CPU
    without bfloat16 kernels None: float32, as emulated bfloat16 would be many times slower."""
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_bfloat16_kernels() else None
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def available_cores() -> int:
    """The cores this process may run on (respects CPU affinity, e.g. in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"--device {name}: CUDA is not available here (this PyTorch is {torch.__version__}). "
            "Use --device cpu or --device auto."
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices.")
    if device.type == "mps" and not _mps_available():
        raise ConfigError(f"--device {name}: Apple's MPS backend is not available here. Use --device cpu.")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@contextlib.contextmanager
def hardware_context(hardware: Hardware) -> Iterator[None]:
    """Apply threads and determinism flags; keep the caller's global RNG state untouched."""
    saved_threads = torch.get_num_threads()
    saved_deterministic = torch.are_deterministic_algorithms_enabled()
    saved_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    saved_fill = torch.utils.deterministic.fill_uninitialized_memory
    if hardware.device.type == "cpu":
        torch.set_num_threads(hardware.threads)
        keep_freed_memory()  # for the rest of the process: see allocator.py
    if hardware.device.type == "cuda":
        if hardware.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC)
        torch.backends.cudnn.deterministic = hardware.deterministic
        torch.backends.cudnn.benchmark = not hardware.deterministic
    set_deterministic(hardware.deterministic)
    # Deterministic mode also fills every new tensor with NaN (a debugging aid that catches reads
    # of uninitialised memory; it changes no result). A step allocates hundreds of tensors, and
    # filling each one is memory traffic a small network's step does not need: skip them.
    torch.utils.deterministic.fill_uninitialized_memory = False
    # The trainer seeds the global RNG before every step (for dropout and sampling models); fork
    # it so the caller's random state is the same after training as before.
    fork_devices = [hardware.device.index or 0] if hardware.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=fork_devices):
            yield
    finally:
        torch.set_num_threads(saved_threads)
        set_deterministic(saved_deterministic)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved_cudnn
        torch.utils.deterministic.fill_uninitialized_memory = saved_fill


def set_deterministic(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)``, without importing torch's compiler for it.

    In recent torch (2.13 here) that function imports ``torch._inductor.config`` (and with it dynamo: 1.5-2 s
    of CPU, more than a start-up's whole import of torch) only to set inductor's own flag, which
    matters to compiled code alone. While the compiler is not loaded, set only the eager flag; once
    it is (``torch.compile`` imports it), go through torch's function so both flags agree.
    """
    if "torch._inductor.config" in sys.modules or not hasattr(torch._C, "_set_deterministic_algorithms"):
        torch.use_deterministic_algorithms(mode, warn_only=False)
    else:
        torch._C._set_deterministic_algorithms(mode, warn_only=False)


def autocast(hardware: Hardware | None) -> contextlib.AbstractContextManager:
    """Mixed-precision autocast on the run's device, or nothing."""
    if hardware is None or hardware.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=hardware.device.type, dtype=hardware.amp_dtype)
