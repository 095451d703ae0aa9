"""Goals 1, 3 and 4: time to a test accuracy, and what the fast recipes reach.

Time to accuracy counts training seconds only: the sum of the epochs' training time up to the
first epoch whose test accuracy reaches the target. The test evaluation after every epoch (needed
to notice the target) is reported separately as wall time. Both sides evaluate after every epoch.

- Plain side (goal 1): the course recipe, ``tutorial-cnn`` with Adam at 1e-3, batch 64, up to 10
  epochs, in the notebook loop of :mod:`benchmarks.plain`; it stops at the first epoch at or above
  the target.
- cnnlab side: ``cnnlab.train(recipe=...)``, exactly what ``cnnlab train --recipe NAME`` runs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from benchmarks import plain
from benchmarks.measure import StepClock, cnnlab_train
from cnnlab.data import ImageDataset, load_dataset
from cnnlab.models import create

COURSE_TARGET = 0.64  # the course recipe's CIFAR-10 test accuracy after 10 epochs
COURSE_EPOCHS, COURSE_BATCH, COURSE_LR = 10, 64, 1e-3


@dataclass
class AccuracyRun:
    """One training run: per-epoch test accuracy and cumulative training seconds."""

    label: str
    accuracies: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)  # cumulative, after each epoch
    wall_seconds: float = 0.0

    def seconds_to(self, target: float) -> float | None:
        """Training seconds until the first epoch at or above ``target``; None if never reached."""
        for accuracy, seconds in zip(self.accuracies, self.train_seconds, strict=True):
            if accuracy >= target:
                return seconds
        return None

    @property
    def final_accuracy(self) -> float:
        return self.accuracies[-1] if self.accuracies else float("nan")

    @property
    def total_train_seconds(self) -> float:
        return self.train_seconds[-1] if self.train_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plain_course_run(
    train: ImageDataset,
    test: ImageDataset,
    target: float | None = COURSE_TARGET,
    max_epochs: int = COURSE_EPOCHS,
) -> AccuracyRun:
    """The course recipe in the notebook loop; stops at the first epoch reaching ``target``."""
    torch.manual_seed(0)
    model = create("tutorial-cnn", train.num_classes, train.in_channels, train.image_size)
    optimizer = plain.plain_optimizer(model, COURSE_LR)
    train_loader = plain.plain_loader(train, COURSE_BATCH, shuffle=True)
    test_loader = plain.plain_loader(test, COURSE_BATCH, shuffle=False)
    run, started, trained = AccuracyRun("plain: tutorial-cnn, Adam 1e-3, batch 64"), time.perf_counter(), 0.0
    for _ in range(max_epochs):
        epoch_start = time.perf_counter()
        plain.train_epoch(model, optimizer, train_loader)
        trained += time.perf_counter() - epoch_start
        run.accuracies.append(plain.evaluate(model, test_loader))
        run.train_seconds.append(trained)
        if target is not None and run.accuracies[-1] >= target:
            break
    run.wall_seconds = time.perf_counter() - started
    return run


def cnnlab_recipe_run(recipe: str, **settings: Any) -> AccuracyRun:
    """``cnnlab.train(recipe=recipe, **settings)``, recorded at each epoch with a test evaluation
    (pass ``test_every=1`` for every epoch; a recipe may test only after the last)."""
    clock = StepClock()
    started = time.perf_counter()
    cnnlab_train(None, None, clock, recipe=recipe, **settings)
    flags = "".join(f" --{name.replace('_', '-')} {value}" for name, value in settings.items())
    run = AccuracyRun(f"cnnlab: --recipe {recipe}{flags}")
    trained = 0.0
    for record in clock.epochs:
        trained += record["time_s"]
        if "test_accuracy" in record:
            run.accuracies.append(record["test_accuracy"])
            run.train_seconds.append(trained)
    run.wall_seconds = time.perf_counter() - started
    return run


def load_cifar10() -> tuple[ImageDataset, ImageDataset]:
    return load_dataset("cifar10", "train", progress=False), load_dataset("cifar10", "test", progress=False)
