"""The parts of an experiment's plan: its sizes, its cells, extra work, the course's numbers.

These are plain data, imported by the experiment table (:mod:`cnnlab.experiments.registry`) and by
the time estimate (:mod:`cnnlab.experiments.timing`) alike; this module imports neither.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from cnnlab.data import ImageDataset


@dataclass(frozen=True)
class Size:
    """How much of an experiment runs. Experiments with more knobs subclass it (e.g. range-test steps)."""

    seeds: int
    train_images: int | None = None  # the first N training images (None: all of them)
    test_images: int | None = None  # the first N test images (None: all of them)
    epochs: int | None = None  # replaces the experiment's own epochs (quick versions)

    def apply(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` cut to this size: subset, test subset and epochs where this size sets them.

        An experiment whose full version already trains on a subset keeps the smaller of the two.
        """
        result = dict(settings)
        for key, value in (("subset", self.train_images), ("test_subset", self.test_images)):
            if value is not None:
                result[key] = min(value, result[key]) if result.get(key) else value
        if self.epochs is not None:
            result["epochs"] = self.epochs
        return result


@dataclass(frozen=True)
class Reference:
    """A number the course reports for one cell, e.g. the CNN's 96.15% on MNIST after one epoch.

    A notebook that prints a truncated number (``%d %%``: "64 %") gives a range, not a value:
    ``value`` is its low end and ``upper`` its high end (0.64 and 0.6499).
    """

    cell: str  # the label of the cell it is compared with
    value: float  # on the metric's own scale (accuracy as a fraction: 0.9615)
    metric: str = "test_accuracy"
    source: str = "course notebook"
    upper: float | None = None  # the high end when the course printed a truncated number

    @property
    def high(self) -> float:
        return self.value if self.upper is None else self.upper

    @property
    def middle(self) -> float:
        """The single number differences are measured from: the range's midpoint."""
        return (self.value + self.high) / 2


@dataclass(frozen=True)
class CellSpec:
    """One configuration to train over the seeds: a row of the report's tables."""

    label: str
    model: str | Callable[[], nn.Module]  # a registry name, or a factory of your own module
    dataset: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # TrainConfig fields
    # Applied to the train and test splits before training (e.g. a fixed pixel permutation).
    transform: Callable[[ImageDataset], ImageDataset] | None = None
    # Trained with only the first N of the experiment's seeds (transfer's one source network, which
    # every target seed starts from); None: with all of them. Estimates count its runs by it.
    seeds: int | None = None

    @property
    def model_name(self) -> str:
        return model_label(self.model)

    def with_settings(self, **changes: Any) -> CellSpec:
        return dataclasses.replace(self, settings={**self.settings, **changes})


@dataclass(frozen=True)
class ExtraWork:
    """Training steps an experiment takes outside its cells (a learning-rate range test), for estimates."""

    model: str | Callable[[], nn.Module]
    dataset: str
    batch_size: int
    steps: int  # per seed


@dataclass(frozen=True)
class Plan:
    cells: list[CellSpec]
    extra: list[ExtraWork] = field(default_factory=list)


def model_label(model: str | Callable[[], nn.Module]) -> str:
    """A registry name as it is; a factory as ``name(arg=value, ...)`` (a partial shows its arguments)."""
    from cnnlab.formatting import factory_label

    return model if isinstance(model, str) else factory_label(model)
