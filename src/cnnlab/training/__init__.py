"""The training engine behind ``cnnlab.train(model, dataset, **settings) -> Run``.

Settings live in one dataclass (:class:`TrainConfig`); optimizers, losses and schedules are looked
up by name in small registries; a run writes its directory (:mod:`cnnlab.runs.rundir`) and is
indexed in SQLite (:mod:`cnnlab.runs.index`). Same seed, same machine: the same bits, also after a
resume. See docs/training.md.

The names below are imported on first use, so ``import cnnlab.training.config`` (what the command
line needs to list its flags) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Run": "cnnlab.runs.run",
    "train": "cnnlab.training.api",
    "resume": "cnnlab.training.api",
    "reopen": "cnnlab.training.api",
    "TrainConfig": "cnnlab.training.config",
    "load_config_file": "cnnlab.training.config",
    "resolve_config": "cnnlab.training.config",
    "evaluate": "cnnlab.training.evaluation",
    "predict": "cnnlab.training.evaluation",
    "Hardware": "cnnlab.training.hardware",
    "choose_hardware": "cnnlab.training.hardware",
    "TrainingInterrupted": "cnnlab.training.interrupts",
    "LOSSES": "cnnlab.training.losses",
    "OPTIMIZERS": "cnnlab.training.optimizers",
    "SCHEDULES": "cnnlab.training.schedules",
    "TIMING_KEYS": "cnnlab.training.progress",
    "ConsoleReporter": "cnnlab.training.progress",
    "Reporter": "cnnlab.training.progress",
    "RECIPES": "cnnlab.training.recipes",
    "Recipe": "cnnlab.training.recipes",
    "add_recipe": "cnnlab.training.recipes",
    "get_recipe": "cnnlab.training.recipes",
    "list_recipes": "cnnlab.training.recipes",
    "SeedStudy": "cnnlab.training.seed_study",
    "parse_seeds": "cnnlab.training.seed_study",
    "train_seeds": "cnnlab.training.seed_study",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlab.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
