"""Measuring tools shared by the benchmarks: the machine, its matmul peak, FLOPs of a training step,
per-step clocks of a cnnlab run, and synthetic datasets of any shape.

Timing rule used throughout: each side of a comparison is timed several times, interleaved with
the other side, and the fastest repetition is kept. On a machine shared with other processes the
fastest run is the one least disturbed, and interleaving exposes both sides to the same load.
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.data import ImageDataset
from cnnlab.training.hardware import cpu_instruction_sets
from cnnlab.training.progress import Reporter


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU model and flags that matter, threads, versions, load."""
    instruction_sets = cpu_instruction_sets()
    return {
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "isa": instruction_sets["flags"],  # of AVX2, AVX-512F, AVX512-BF16, AMX (/proc/cpuinfo)
        "torch_cpu_capability": instruction_sets["torch_capability"],  # what torch's kernels use
        "bfloat16_kernels": instruction_sets["bfloat16_kernels"],  # else --amp trains in float32
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def _cpu_info() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    match = re.search(r"^model name\s*:\s*(.+)$", _cpu_info(), re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or platform.machine())


def matmul_gflops(size: int = 4096, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """This CPU's practical peak: GFLOP/s of the fastest of ``repeats`` ``size x size`` matmuls.

    A large square matmul is the best case for the BLAS library PyTorch calls, so it stands for
    what the cores can do; a network's achieved GFLOP/s is compared with it.
    """
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    a @ b  # first call: thread pool start-up and page faults
    best = min(seconds_of(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def seconds_of(work: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``work``."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def training_flops_per_image(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """FLOPs of one training step (forward and backward) per image, counted by PyTorch's
    ``FlopCounterMode`` on the meta device (no memory, no arithmetic). Convolutions and matrix
    products are counted (2 per multiply-add); element-wise ops are not, as usual."""
    return _flops_per_image(model, input_shape, backward=True)


def forward_flops_per_image(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """FLOPs of one forward pass (what evaluation costs) per image, counted as above."""
    return _flops_per_image(model, input_shape, backward=False)


def _flops_per_image(model: nn.Module, input_shape: tuple[int, ...], backward: bool) -> float:
    meta_model = _on_meta(model)
    x = torch.zeros((2, *input_shape), device="meta")
    with FlopCounterMode(display=False) as counter:
        if callable(getattr(meta_model, "objective", None)):
            loss = meta_model.objective(x)["loss"]
        else:
            loss = meta_model(x).sum()
        if backward:
            loss.backward()
    return counter.get_total_flops() / 2


def _on_meta(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).to("meta")


def synthetic_dataset(input_shape: tuple[int, int, int], images: int, num_classes: int = 10) -> ImageDataset:
    """Random uint8 images and labels of a given shape (throughput does not depend on the pixels)."""
    generator = torch.Generator().manual_seed(0)
    channels = input_shape[0]
    return ImageDataset(
        name="synthetic",
        split="train",
        images=torch.randint(0, 256, (images, *input_shape), dtype=torch.uint8, generator=generator),
        labels=torch.randint(0, num_classes, (images,), generator=generator),
        classes=[str(i) for i in range(num_classes)],
        mean=[0.5] * channels,
        std=[0.25] * channels,
        verification="synthetic",
    )


@dataclass
class StepClock(Reporter):
    """A cnnlab progress reporter that records when each training step ends, and each epoch record.

    The trainer calls ``epoch_started`` before fetching the first batch and ``step`` after every
    optimizer step, so consecutive differences are whole steps (batch fetch included), exactly
    what :func:`benchmarks.plain.time_steps` times on the plain side.
    """

    step_seconds: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    epoch_ends: list[float] = field(default_factory=list)
    _last: float = 0.0

    def epoch_started(self, epoch: int, epochs: int, batches: int, start_batch: int) -> None:
        self._last = time.perf_counter()

    def step(self, images: int, stats: dict[str, float] | None) -> None:
        now = time.perf_counter()
        self.step_seconds.append(now - self._last)
        self._last = now

    def epoch_ended(self, record: dict[str, Any]) -> None:
        self.epochs.append(dict(record))
        self.epoch_ends.append(time.perf_counter())


def cnnlab_train(
    model: str | nn.Module,
    dataset: ImageDataset,
    clock: Reporter,
    environment: dict[str, Any] | None = None,
    **settings: Any,
):
    """``cnnlab.train`` into a throw-away runs folder, reporting to ``clock``; returns the Run.
    ``environment``: filled with the run's environment.json (its precision, machine) before the
    folder goes."""
    from cnnlab.training import train

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as runs_dir:
        run = train(model, dataset, runs_dir=runs_dir, progress=clock, **settings)
        if environment is not None:
            environment.update(json.loads((run.dir / "environment.json").read_text(encoding="utf-8")))
        return run


def best_of(*repetitions: list[float]) -> float:
    """The smallest value over all repetitions (each a list of timings)."""
    return min(min(r) for r in repetitions if r)
