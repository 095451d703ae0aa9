"""The training engine: ``cnnlab.train(model, dataset, **settings) -> Run``.

Settings live in one dataclass (:class:`TrainConfig`); optimizers, losses and schedules are looked
up by name in small registries; a run writes its directory (:mod:`cnnlab.runs.rundir`) and is
indexed in SQLite (:mod:`cnnlab.runs.index`). Same seed, same machine: the same bits, also after a
resume. See docs/training.md.

``cnnlab.train`` is this package once any of its modules is imported (Python then sets the
package attribute over the function of the same name in ``cnnlab/__init__.py``), so the package
itself is callable: ``cnnlab.train("lenet5", "mnist")`` works either way.

The names below are imported on first use, so ``import cnnlab.train.config`` (what the command
line needs to list its flags) does not import torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "Run": "cnnlab.runs.run",
    "train": "cnnlab.train.api",
    "resume": "cnnlab.train.api",
    "TrainConfig": "cnnlab.train.config",
    "load_config_file": "cnnlab.train.config",
    "resolve_config": "cnnlab.train.config",
    "evaluate": "cnnlab.train.evaluation",
    "predict": "cnnlab.train.evaluation",
    "Hardware": "cnnlab.train.hardware",
    "choose_hardware": "cnnlab.train.hardware",
    "TrainingInterrupted": "cnnlab.train.interrupts",
    "LOSSES": "cnnlab.train.losses",
    "OPTIMIZERS": "cnnlab.train.optimizers",
    "SCHEDULES": "cnnlab.train.schedules",
    "TIMING_KEYS": "cnnlab.train.progress",
    "ConsoleReporter": "cnnlab.train.progress",
    "Reporter": "cnnlab.train.progress",
    "RECIPES": "cnnlab.train.recipes",
    "Recipe": "cnnlab.train.recipes",
    "add_recipe": "cnnlab.train.recipes",
    "get_recipe": "cnnlab.train.recipes",
    "list_recipes": "cnnlab.train.recipes",
    "SeedStudy": "cnnlab.train.seeds",
    "parse_seeds": "cnnlab.train.seeds",
    "train_seeds": "cnnlab.train.seeds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlab.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`cnnlab.train.api.train`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
