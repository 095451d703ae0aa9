"""Learning-rate schedules by name, evaluated per optimizer step: constant, warmup, step, cosine,
linear, one-cycle, triangle; any of them after an optional linear warm-up (``warmup_epochs``).

A schedule here is a pure function of the step index, not a stateful ``torch.optim.lr_scheduler``:
the learning rate of step ``s`` is the same whether the run went straight through or was resumed
from a checkpoint, and the scheduler's whole state is the step counter the trainer keeps anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnlab.registry import Registry

if TYPE_CHECKING:
    from cnnlab.training.config import TrainConfig

# shape(t, span, steps_per_epoch, config) -> multiplier of the base lr, for step t of the span
# that follows the warm-up (0 <= t < span).
Shape = Callable[[int, int, int, "TrainConfig"], float]
SCHEDULES: Registry = Registry("schedule", order="sorted")

# One-cycle's constants, those of Smith & Topin (2017) as PyTorch's OneCycleLR uses them: start at
# lr/25, reach lr after 30% of the steps, end at lr/25/1e4.
ONE_CYCLE_RISE = 0.3
ONE_CYCLE_START_DIV = 25.0
ONE_CYCLE_END_DIV = 1e4

# The triangle's, those of airbench94 (Jordan 2024): start at lr/5, reach lr after 23% of the steps,
# end at 7% of lr.
TRIANGLE_START = 0.2
TRIANGLE_RISE = 0.23
TRIANGLE_END = 0.07


@dataclass(frozen=True)
class Schedule:
    """The learning rate of every step of a run."""

    name: str
    base_lr: float
    total_steps: int
    steps_per_epoch: int
    warmup_steps: int
    shape: Shape
    config: TrainConfig

    def lr(self, step: int) -> float:
        """Learning rate of optimizer step ``step`` (0-based)."""
        if step < self.warmup_steps:
            # Linear from lr/warmup_steps up to lr at the last warm-up step.
            return self.base_lr * (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        t = min(step - self.warmup_steps, span - 1)
        return self.base_lr * self.shape(t, span, self.steps_per_epoch, self.config)


def build_schedule(config: TrainConfig, steps_per_epoch: int) -> Schedule:
    """The schedule ``config.schedule`` for ``config.epochs`` epochs of ``steps_per_epoch`` steps."""
    return Schedule(
        name=config.schedule,
        base_lr=config.lr,
        total_steps=config.epochs * steps_per_epoch,
        steps_per_epoch=steps_per_epoch,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
        shape=SCHEDULES.get(config.schedule),
        config=config,
    )


@SCHEDULES.register("constant")
def constant(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    return 1.0


@SCHEDULES.register("warmup")
def warmup(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    # Constant after the linear warm-up of warmup_epochs (which must be > 0 for this schedule).
    return 1.0


@SCHEDULES.register("step")
def step(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    # Multiply by step_gamma every step_size epochs (the ResNet paper's /10 at fixed epochs).
    return config.step_gamma ** (t // (config.step_size * steps_per_epoch))


@SCHEDULES.register("cosine")
def cosine(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    # Loshchilov & Hutter (2017) without restarts: half a cosine from lr down to 0.
    return 0.5 * (1.0 + math.cos(math.pi * t / span))


@SCHEDULES.register("linear")
def linear(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    # Straight down from lr to 0 (airbench94_muon: no warm-up, Muon's normalised steps need none).
    return 1.0 - t / span


@SCHEDULES.register("onecycle")
def one_cycle(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    start = 1.0 / ONE_CYCLE_START_DIV
    end = start / ONE_CYCLE_END_DIV
    rise_steps = max(1, round(ONE_CYCLE_RISE * span))
    if t < rise_steps:
        return _cosine_between(start, 1.0, t / rise_steps)
    # The last step (t = span - 1) lands exactly on the final learning rate.
    return _cosine_between(1.0, end, (t - rise_steps) / max(1, span - 1 - rise_steps))


@SCHEDULES.register("triangle")
def triangle(t: int, span: int, steps_per_epoch: int, config: TrainConfig) -> float:
    # Straight lines up and down. A short run starts higher than one-cycle's lr/25 (no epoch is
    # spent warming up) and ends at a small lr rather than at none: the weight average smooths it.
    rise_steps = max(1, round(TRIANGLE_RISE * span))
    if t < rise_steps:
        return TRIANGLE_START + (1.0 - TRIANGLE_START) * t / rise_steps
    fraction = (t - rise_steps) / max(1, span - 1 - rise_steps)
    return 1.0 + (TRIANGLE_END - 1.0) * fraction


def _cosine_between(first: float, last: float, fraction: float) -> float:
    """From ``first`` (fraction 0) to ``last`` (fraction 1) along half a cosine."""
    return last + (first - last) * 0.5 * (1.0 + math.cos(math.pi * fraction))
