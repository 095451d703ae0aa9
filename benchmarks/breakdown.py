"""Where the time of a training step goes: data, forward, backward, optimizer, bookkeeping.

Each phase of a step is timed on its own (``perf_counter`` around it; on a CPU every op has
finished when the call returns), for the plain loop and for cnnlab's pieces (BatchLoader, the
hardware choices of ``cnnlab.training.hardware``, the optimizer of ``cnnlab.training.optimizers``, the
trainer's per-step seeding and metric sums). The median over the timed steps is reported. The
optional operator table comes from ``torch.profiler`` over the same cnnlab steps.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks import plain
from cnnlab.data import BatchLoader, ImageDataset
from cnnlab.models import create

PHASES = ("data", "forward", "backward", "optimizer", "bookkeeping")


@dataclass
class Breakdown:
    label: str
    batch_size: int
    milliseconds: dict[str, float] = field(default_factory=dict)  # median per phase

    @property
    def total_ms(self) -> float:
        return sum(self.milliseconds.values())

    @property
    def images_per_s(self) -> float:
        return self.batch_size / self.total_ms * 1000

    def line(self) -> str:
        parts = "  ".join(
            f"{phase} {ms:6.1f} ms ({ms / self.total_ms:4.0%})" for phase, ms in self.milliseconds.items()
        )
        return f"  {self.label:64s} {self.total_ms:7.1f} ms/step {self.images_per_s:8.0f} img/s | {parts}"


class _PhaseTimer:
    def __init__(self):
        self.samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.samples[phase].append((now - self._last) * 1000)
        self._last = now

    def medians(self, skip: int) -> dict[str, float]:
        return {
            phase: statistics.median(values[skip:]) for phase, values in self.samples.items() if values[skip:]
        }


def plain_breakdown(
    model: nn.Module, dataset: ImageDataset, batch_size: int, steps: int, warmup: int = 2
) -> Breakdown:
    """The notebook loop, phase by phase."""
    optimizer = plain.plain_optimizer(model)
    batches = _cycle(lambda: iter(plain.plain_loader(dataset, batch_size, shuffle=True)))
    timer = _PhaseTimer()
    model.train()
    for _ in range(warmup + steps):
        timer.start()
        x, y = next(batches)
        timer.mark("data")
        optimizer.zero_grad()
        loss = plain.plain_loss(model, x, y)
        timer.mark("forward")
        loss.backward()
        timer.mark("backward")
        optimizer.step()
        timer.mark("optimizer")
        loss.item()
        timer.mark("bookkeeping")
    return Breakdown("plain loop", batch_size, timer.medians(warmup))


class CnnlabStep:
    """cnnlab's training step with the hardware choices, optimizer and bookkeeping its trainer makes
    (settings override the trainer's defaults, as ``cnnlab.train`` keywords do)."""

    def __init__(self, model: nn.Module, dataset: ImageDataset, batch_size: int, **settings):
        from cnnlab.training.config import TrainConfig
        from cnnlab.training.hardware import choose_hardware, fit_to_model
        from cnnlab.training.metrics import MetricSums
        from cnnlab.training.optimizers import build_optimizer

        config = TrainConfig(**{"optimizer": "adam", "lr": 1e-3, **settings, "batch_size": batch_size})
        self.hardware = fit_to_model(choose_hardware(config), config, model)
        if self.hardware.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model.train()
        self.optimizer = build_optimizer(model.parameters(), config, self.hardware.device)
        loader = BatchLoader(dataset, batch_size, seed=0, scale=getattr(model, "input_scale", "standardized"))
        self.batches = _cycle(lambda: loader.epoch(0))
        self.sums = MetricSums(self.hardware.device)

    def __call__(self, step: int, mark: Callable[[str], None] = lambda phase: None) -> None:
        """Step number ``step``; ``mark(phase)`` is called as each phase ends."""
        from cnnlab.training.hardware import autocast
        from cnnlab.training.metrics import batch_output
        from cnnlab.training.seeding import STEP, seed_global_rng

        x, y = next(self.batches)
        if self.hardware.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        mark("data")
        with autocast(self.hardware):
            output = batch_output(
                self.model, x, y, lambda logits, labels: F.cross_entropy(logits.float(), labels)
            )
        mark("forward")
        output.loss.backward()
        mark("backward")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        mark("optimizer")
        seed_global_rng(0, STEP, 0, step)
        self.sums.add(output, y)
        mark("bookkeeping")


def cnnlab_breakdown(
    model: nn.Module, dataset: ImageDataset, batch_size: int, steps: int, warmup: int = 2, **settings
) -> Breakdown:
    """cnnlab's step (:class:`CnnlabStep`), phase by phase."""
    from cnnlab.training.hardware import hardware_context

    cnnlab_step, timer = CnnlabStep(model, dataset, batch_size, **settings), _PhaseTimer()
    with hardware_context(cnnlab_step.hardware):
        for step in range(warmup + steps):
            timer.start()
            cnnlab_step(step, timer.mark)
    return Breakdown(f"cnnlab ({cnnlab_step.hardware.describe()})", batch_size, timer.medians(warmup))


def operator_table(
    model: nn.Module, dataset: ImageDataset, batch_size: int, steps: int = 3, rows: int = 15, **settings
) -> str:
    """``torch.profiler``'s top operators by self CPU time over ``steps`` of cnnlab's steps."""
    from torch.profiler import ProfilerActivity, profile

    from cnnlab.training.hardware import hardware_context

    cnnlab_step = CnnlabStep(model, dataset, batch_size, **settings)
    with hardware_context(cnnlab_step.hardware):
        cnnlab_step(0)  # warm-up: oneDNN builds its kernels on the first call
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for step in range(1, steps + 1):
                cnnlab_step(step)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


# What each of the trainer's CPU choices buys: its defaults, then each one switched.
CNNLAB_VARIANTS: tuple[dict, ...] = ({}, {"channels_last": False}, {"amp": True})


def compare(
    model_name: str, dataset: ImageDataset, batch_size: int, steps: int, variants=CNNLAB_VARIANTS
) -> list[Breakdown]:
    """The plain breakdown of ``model_name``, then cnnlab's with each of ``variants`` (settings
    that override the trainer's defaults); the same initial weights for all."""
    measures = [plain_breakdown] + [functools.partial(cnnlab_breakdown, **settings) for settings in variants]
    results = []
    for measure in measures:
        torch.manual_seed(0)
        model = create(model_name, num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                       input_size=dataset.image_size)  # fmt: skip
        results.append(measure(model, dataset, batch_size, steps))
    return results


def _cycle(start: Callable[[], Iterator]) -> Iterator:
    while True:
        yield from start()
