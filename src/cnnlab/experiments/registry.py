"""What an experiment is, and the table of them: ``@experiment(...)`` registers a recipe's ``run``.

An experiment is declarative: its name and version, the learner's question it answers, the
course's numbers it is compared with, how big its full and ``--quick`` versions are (:class:`Size`),
and a ``plan(size)`` listing the training cells it will run (used to estimate its time before it
starts). Its ``run(ctx)`` trains those cells through :func:`cnnlab.training.train` and writes its part of
the report; :mod:`cnnlab.experiments.runner` does the rest (directory, machine, course check,
``report.md``, ``results.json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnnlab.errors import UnknownNameError

if TYPE_CHECKING:
    from torch import nn

    from cnnlab.data import ImageDataset
    from cnnlab.experiments.context import Context
    from cnnlab.experiments.timing import Estimate


@dataclass(frozen=True)
class Size:
    """How much of a recipe runs. Recipes with more knobs subclass it (e.g. range-test steps)."""

    seeds: int
    train_images: int | None = None  # the first N training images (None: all of them)
    test_images: int | None = None  # the first N test images (None: all of them)
    epochs: int | None = None  # replaces the recipe's own epochs (quick versions)

    def apply(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` cut to this size: subset, test subset and epochs where this size sets them.

        A recipe whose full version already trains on a subset keeps the smaller of the two.
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

    @property
    def model_name(self) -> str:
        return model_label(self.model)

    def with_settings(self, **changes: Any) -> CellSpec:
        return dataclasses.replace(self, settings={**self.settings, **changes})


@dataclass(frozen=True)
class ExtraWork:
    """Training steps a recipe takes outside its cells (a learning-rate range test), for estimates."""

    model: str | Callable[[], nn.Module]
    dataset: str
    batch_size: int
    steps: int  # per seed


@dataclass(frozen=True)
class Plan:
    cells: list[CellSpec]
    extra: list[ExtraWork] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A named, versioned recipe. ``version`` goes up whenever its settings change its numbers."""

    name: str
    version: int
    title: str
    question: str  # the learner's question the report answers
    full: Size
    quick: Size
    plan: Callable[[Size], Plan]
    run: Callable[[Context], None] = field(repr=False)
    references: tuple[Reference, ...] = ()
    warning: str = ""  # said before it starts and at the top of the report (e.g. "hours on a CPU")

    def size(self, quick: bool) -> Size:
        return self.quick if quick else self.full

    def estimate(self, quick: bool = False, seeds: int | None = None, **options: Any) -> Estimate:
        """Its expected time on this machine (see :mod:`cnnlab.experiments.timing`)."""
        from cnnlab.experiments.timing import estimate

        return estimate(self, quick=quick, seeds=seeds, **options)


def model_label(model: str | Callable[[], nn.Module]) -> str:
    """A registry name as it is; a factory as ``name(arg=value, ...)`` (a partial shows its arguments)."""
    from cnnlab.models.registry import factory_label

    return model if isinstance(model, str) else factory_label(model)


_EXPERIMENTS: dict[str, Experiment] = {}


def experiment(
    name: str,
    *,
    version: int,
    title: str,
    question: str,
    full: Size,
    quick: Size,
    plan: Callable[[Size], Plan],
    references: tuple[Reference, ...] = (),
    warning: str = "",
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register the decorated ``run(ctx)`` as experiment ``name`` (decorator)."""

    def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
        if name in _EXPERIMENTS:
            raise ValueError(f"experiment {name!r} is registered twice")
        labels = {cell.label for cell in plan(full).cells}
        missing = [ref.cell for ref in references if ref.cell not in labels]
        if missing:
            raise ValueError(f"experiment {name!r}: references to unknown cells {missing}")
        _EXPERIMENTS[name] = Experiment(
            name, version, title, question, full, quick, plan, run, tuple(references), warning
        )
        return run

    return register


def get_experiment(name: str) -> Experiment:
    """The experiment ``name``; :class:`UnknownNameError` listing the known ones otherwise."""
    try:
        return _EXPERIMENTS[name]
    except KeyError:
        raise UnknownNameError("experiment", name, _EXPERIMENTS) from None


def list_experiments() -> list[Experiment]:
    """The registered experiments, in the order the course meets them."""
    return list(_EXPERIMENTS.values())
