"""Hyper-parameter sweeps on Optuna: ``cnnlab.sweep(...)`` and ``cnnlab sweep``.

- :mod:`cnnlab.sweeps.space`: the search space (ranges, choices, fixed settings), checked whole.
- :mod:`cnnlab.sweeps.storage`: the study's database (SQLite or PostgreSQL), heartbeats, retries.
- :mod:`cnnlab.sweeps.objective`: one trial, an ordinary cnnlab run, reported to the pruner per epoch.
- :mod:`cnnlab.sweeps.api`: the sweep: checks, the study, the worker processes.
- :mod:`cnnlab.sweeps.report`: the final runs over seeds, report.md, results.json, plots, ``--show``.

See docs/sweeps.md. Names are imported on first use, so ``cnnlab --help`` does not import Optuna.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "sweep": "cnnlab.sweeps.api",
    "SweepResult": "cnnlab.sweeps.api",
    "SweepInterrupted": "cnnlab.sweeps.api",
    "build_space": "cnnlab.sweeps.space",
    "SearchSpace": "cnnlab.sweeps.space",
    "StorageError": "cnnlab.sweeps.storage",
    "sweep_state": "cnnlab.sweeps.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlab.sweeps' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
