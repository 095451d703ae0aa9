"""The learning-rate range test (Smith, "Cyclical learning rates for training neural networks", 2017;
fastai's ``lr_find``): a quick way to pick a learning rate for a new optimizer, model or dataset.

From a fresh model, take ``steps`` optimizer steps while the learning rate grows exponentially from
``start_lr`` to ``end_lr``, and record the loss of each step. The raw losses are noisy (each is one
batch), so they are smoothed with an exponential moving average (bias-corrected, as Adam's
moments). The smoothed loss first stays flat (too small a rate to move), then falls, then blows
up; the test stops once it exceeds ``DIVERGE_FACTOR`` times its minimum. Two readings:

- ``minimum / 10``: the rate of the lowest loss is already at the edge of instability; a tenth of
  it is safely on the falling part (the classic fastai rule, and the one used by default).
- ``steepest``: the rate where the loss falls fastest per decade of learning rate.

When the smoothed loss never falls by ``MIN_DESCENT`` below its start (too few steps, or a sweep
that misses the useful range), ``descended`` is False and neither reading means anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.data import BatchLoader
from cnnlab.errors import ConfigError
from cnnlab.training import TrainConfig
from cnnlab.training.losses import build_loss
from cnnlab.training.metrics import batch_output
from cnnlab.training.optimizers import build_optimizer

START_LR = 1e-6
END_LR = 10.0
SMOOTHING = 0.9  # weight of the past in the moving average (fastai: 0.98 over 100 steps; fewer steps here)
DIVERGE_FACTOR = 4.0
RULES = ("min/10", "steepest")
# The first steps of the average rest on very few batches; the steepest slope is not looked for there.
SKIP_START_FRACTION = 0.1
MIN_DESCENT = 0.02  # the lowest smoothed loss must be this fraction below the first for a reading


@dataclass(frozen=True)
class RangeTest:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    minimum: float  # the learning rate of the lowest smoothed loss
    steepest: float  # the learning rate where the smoothed loss falls fastest
    rule: str
    descended: bool  # the loss fell by MIN_DESCENT somewhere: the readings mean something

    @property
    def suggestion(self) -> float:
        return self.minimum / 10 if self.rule == "min/10" else self.steepest

    def to_dict(self) -> dict[str, Any]:
        return {
            "lrs": self.lrs,
            "losses": self.losses,
            "smoothed": self.smoothed,
            "minimum": self.minimum,
            "steepest": self.steepest,
            "rule": self.rule,
            "suggestion": self.suggestion,
            "descended": self.descended,
        }


def lr_range_test(
    model: nn.Module,
    loader: BatchLoader,
    config: TrainConfig,
    *,
    steps: int = 100,
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    rule: str = "min/10",
    seed: int = 0,
) -> RangeTest:
    """Run the test on ``model`` (which it trains: pass a fresh copy) with ``config``'s optimizer and loss."""
    if rule not in RULES:
        raise ConfigError(f"rule must be one of {', '.join(RULES)}, not {rule!r}.")
    if steps < 5 or not 0 < start_lr < end_lr:
        raise ConfigError("The range test needs >= 5 steps and 0 < start_lr < end_lr.")
    device = next(model.parameters()).device
    optimizer = build_optimizer(model.parameters(), config, device)
    loss_fn = build_loss(config)
    lrs = np.geomspace(start_lr, end_lr, steps).tolist()
    losses: list[float] = []
    model.train()
    # Dropout and sampling draw from the global RNG: seed it, and leave the caller's state as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for lr, (inputs, labels) in zip(lrs, _batches(loader), strict=False):
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = batch_output(model, inputs, labels, loss_fn).loss
            losses.append(float(loss.detach()))
            if _diverged(losses):
                break
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    smoothed = smooth(losses)
    return RangeTest(
        lrs=lrs[: len(losses)],
        losses=losses,
        smoothed=smoothed,
        minimum=lrs[int(np.nanargmin(smoothed))],
        steepest=lrs[steepest_index(smoothed, lrs[: len(losses)])],
        rule=rule,
        descended=bool(np.nanmin(smoothed) < (1 - MIN_DESCENT) * smoothed[0]),
    )


def smooth(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """Bias-corrected exponential moving average; a non-finite loss makes the rest NaN."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, 1):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta**step) if np.isfinite(average) else float("nan"))
    return smoothed


def steepest_index(smoothed: list[float], lrs: list[float]) -> int:
    """The step, before the minimum, where the smoothed loss falls fastest per log learning rate."""
    values = np.asarray(smoothed, dtype=float)
    lowest = int(np.nanargmin(values))
    start = min(int(len(values) * SKIP_START_FRACTION), max(lowest - 1, 0))
    if lowest - start < 2:
        return lowest
    slopes = np.gradient(values[start : lowest + 1], np.log10(lrs[start : lowest + 1]))
    return start + int(np.nanargmin(slopes))


def _diverged(losses: list[float]) -> bool:
    smoothed = smooth(losses)
    last = smoothed[-1]
    return not np.isfinite(last) or last > DIVERGE_FACTOR * np.nanmin(smoothed)


def _batches(loader: BatchLoader):
    """Batches without end: epoch after epoch of the loader."""
    epoch = 0
    while True:
        yield from loader.epoch(epoch)
        epoch += 1
