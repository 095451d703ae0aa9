"""What an experiment is, and the table of them: ``@experiment(...)`` registers an experiment's ``run``.

An experiment is declarative: its name and version, the learner's question it answers, the
course's numbers it is compared with, how big its full and ``--quick`` versions are (:class:`Size`),
and a ``plan(size)`` listing the training cells it will run (used to estimate its time before it
starts; the parts of a plan live in :mod:`cnnlab.experiments.plan`). Its ``run(ctx)`` trains those
cells through :func:`cnnlab.training.train` and writes its part of the report;
:mod:`cnnlab.experiments.runner` does the rest (directory, machine, course check, ``report.md``,
``results.json``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnnlab.experiments import timing
from cnnlab.experiments.plan import CellSpec, ExtraWork, Plan, Reference, Size, model_label
from cnnlab.experiments.timing import Estimate, estimate
from cnnlab.registry import Registry

if TYPE_CHECKING:
    from cnnlab.experiments.context import Context

__all__ = [
    "CellSpec",
    "Experiment",
    "ExtraWork",
    "Plan",
    "Reference",
    "Size",
    "experiment",
    "get_experiment",
    "list_experiments",
    "model_label",
]


@dataclass(frozen=True)
class Experiment:
    """A named, versioned course experiment. ``version`` goes up whenever its settings change its numbers."""

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
        return estimate(self, quick=quick, seeds=seeds, **options)


_EXPERIMENTS: Registry[Experiment] = Registry("experiment")
# The course's experiments, in the order the catalog defined them: kept apart from the table, so
# that a table swapped before the catalog was first imported (a test's copy) still gets them.
_CATALOG = "cnnlab.experiments.catalog"
_COURSE: list[Experiment] = []


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
        labels = {cell.label for cell in plan(full).cells}
        missing = [ref.cell for ref in references if ref.cell not in labels]
        if missing:
            raise ValueError(f"experiment {name!r}: references to unknown cells {missing}")
        entry = Experiment(name, version, title, question, full, quick, plan, run, tuple(references), warning)
        _EXPERIMENTS.add(name, entry)
        if run.__module__.startswith(_CATALOG + "."):
            _COURSE.append(entry)
        return run

    return register


def get_experiment(name: str) -> Experiment:
    """The experiment ``name``; :class:`UnknownNameError` listing the known ones otherwise."""
    _load_catalog()
    return _EXPERIMENTS.get(name)


timing.find_experiment = get_experiment  # recorded reports name their experiment (timing.py)


def list_experiments() -> list[Experiment]:
    """The registered experiments, in the order the course meets them."""
    _load_catalog()
    return _EXPERIMENTS.values()


def _load_catalog() -> None:
    """Register the course's experiments: importing the catalog does, once; a table that lacks
    them (swapped while the catalog was imported) gets them again.

    The catalog's modules import this one (for ``@experiment``), so it is loaded by name, as a
    plugin table loads its entries, on first use: listing needs no torch and no import loop.
    """
    importlib.import_module(_CATALOG)

    for entry in _COURSE:
        if entry.name not in _EXPERIMENTS:
            _EXPERIMENTS.add(entry.name, entry)
