"""Goals 1, 3 and 4: time to a test accuracy, and what the fast recipes reach.

Time to accuracy counts training seconds only: the sum of the epochs' training time up to the
first epoch whose test accuracy reaches the target. The test evaluation after every epoch (needed
to notice the target) is reported separately as wall time. Both sides evaluate after every epoch.

- Plain side (goal 1): the course recipe, ``tutorial-cnn`` with Adam at 1e-3, batch 64, up to 10
  epochs, in the notebook loop of :mod:`benchmarks.plain`; it stops at the first epoch at or above
  the target.
- cnnlab side: ``cnnlab.train(recipe=...)``, exactly what ``cnnlab train --recipe NAME`` runs.
- The sweep behind ``cifar10-quick``: the recipe and variants of it (each a few settings changed),
  every one trained with several seeds, so a choice is not made on one seed's luck.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from benchmarks import plain
from benchmarks.measure import StepClock, cnnlab_train
from cnnlab.data import ImageDataset, load_dataset
from cnnlab.models import create
from cnnlab.training.recipes import get_recipe

COURSE_TARGET = 0.64  # the course recipe's CIFAR-10 test accuracy after 10 epochs
COURSE_EPOCHS, COURSE_BATCH, COURSE_LR = 10, 64, 1e-3


@dataclass
class AccuracyRun:
    """One training run: per-epoch test accuracy and cumulative training seconds."""

    label: str
    accuracies: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)  # cumulative, after each epoch
    wall_seconds: float = 0.0
    precision: str = "float32"  # what it trained in (a cnnlab run's environment.json says)
    precision_note: str = ""  # why: asked for, the default, or --amp's float32 fallback
    recipe_variant: str | None = None  # "float32": the recipe's float32 settings were taken
    settings: dict[str, Any] = field(default_factory=dict)  # the run's config.json

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
    clock, environment = StepClock(), {}
    started = time.perf_counter()
    trained = cnnlab_train(None, None, clock, environment, recipe=recipe, **settings)
    device = environment.get("device", {})
    run = AccuracyRun(
        f"cnnlab: --recipe {recipe}{cli_flags(settings)}",
        precision=device.get("precision", "float32"),
        precision_note=device.get("precision_note", ""),
        recipe_variant=trained.config.get("recipe_variant"),
        settings=dict(trained.config),
    )
    trained = 0.0
    for record in clock.epochs:
        trained += record["time_s"]
        if "test_accuracy" in record:
            run.accuracies.append(record["test_accuracy"])
            run.train_seconds.append(trained)
    run.wall_seconds = time.perf_counter() - started
    return run


def cli_flags(settings: dict[str, Any]) -> str:
    """``settings`` as ``cnnlab train`` flags: `` --lr 0.3 --model-arg widths=16,32,64``."""
    flags = []
    for name, value in settings.items():
        if name == "model_args":
            flags += [f"--model-arg {key}={_flag_value(arg)}" for key, arg in value.items()]
        elif value is True or value is False:
            flags.append(f"--{'' if value else 'no-'}{name.replace('_', '-')}")
        else:
            flags.append(f"--{name.replace('_', '-')} {_flag_value(value)}")
    return "".join(f" {flag}" for flag in flags)


def _flag_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item).lower() if isinstance(item, bool) else str(item) for item in value)
    return str(value)


# What cifar10-quick was chosen from: (what changes, the settings that change it). The settings
# override the recipe's, so each row can be re-run as ``cnnlab train --recipe cifar10-quick FLAGS``.
QUICK_RECIPE = "cifar10-quick"  # goal 1's recipe; the variants below are relative to its model
QUICK_MODEL: dict[str, Any] = get_recipe(QUICK_RECIPE).settings["model_args"]
QUICK_SWEEP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("the recipe", {}),
    ("3x3 stem at full resolution", {"model_args": {**QUICK_MODEL, "stem": "conv"}}),
    ("with crop and flip augmentation", {"crop_padding": 2, "flip": True}),
    ("flip TTA only", {"tta": "flip"}),
    ("no TTA", {"tta": "none"}),
    ("no weight average", {"ema": 0.0}),
    ("lr 0.3", {"lr": 0.3}),
    ("lr 0.5", {"lr": 0.5}),
    (
        "a residual pair in the first group too",
        {"model_args": {**QUICK_MODEL, "residual": [True, False, True]}},
    ),
    ("widths 16-32-64 (narrower middle)", {"model_args": {**QUICK_MODEL, "widths": [16, 32, 64]}}),
    ("widths 16-96-96 (wider)", {"model_args": {**QUICK_MODEL, "widths": [16, 96, 96]}}),
    (
        "the earlier recipe (16-32-64, 3x3 stem, lr 0.3, crop and flip, flip TTA)",
        {
            "model_args": {"widths": [16, 32, 64], "residual": [True, False, True], "stem": "conv"},
            "lr": 0.3,
            "crop_padding": 2,
            "flip": True,
            "tta": "flip",
        },
    ),
)


@dataclass
class SweepRow:
    """One variant of a recipe over several seeds: final test accuracy and training seconds."""

    label: str
    flags: str
    seeds: list[int]
    accuracies: list[float]
    train_seconds: list[float]

    @property
    def mean_accuracy(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.train_seconds)

    def line(self) -> str:
        each = ", ".join(f"{a:.2%}" for a in self.accuracies)
        return (
            f" {self.label:62s} mean {self.mean_accuracy:.2%} (min {min(self.accuracies):.2%}; {each}) "
            f"training {self.median_seconds:.1f} s (median) | flags:{self.flags or ' (none)'}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean_accuracy": self.mean_accuracy, "median_seconds": self.median_seconds}


def sweep(
    recipe: str, variants: Sequence[tuple[str, dict[str, Any]]], seeds: Sequence[int], **common: Any
) -> Iterator[SweepRow]:
    """Train ``recipe`` changed by each variant's settings once per seed (``common`` applies to all);
    yields each variant's row as soon as its seeds are done."""
    for label, settings in variants:
        runs = [cnnlab_recipe_run(recipe, **settings, **common, seed=seed) for seed in seeds]
        yield SweepRow(
            label,
            cli_flags(settings),
            list(seeds),
            [run.final_accuracy for run in runs],
            [run.total_train_seconds for run in runs],
        )


def load_cifar10() -> tuple[ImageDataset, ImageDataset]:
    return load_dataset("cifar10", "train", progress=False), load_dataset("cifar10", "test", progress=False)
