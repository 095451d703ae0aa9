"""Hyper-parameter sweeps on Optuna: ``cnnlab.sweep(...)`` and ``cnnlab sweep``.

- :mod:`cnnlab.sweeps.space`: the search space (ranges, choices, fixed settings), checked whole.
- :mod:`cnnlab.sweeps.storage`: the study's database (SQLite or PostgreSQL), heartbeats, retries.
- :mod:`cnnlab.sweeps.objective`: one trial, an ordinary cnnlab run, reported to the pruner per epoch.
- :mod:`cnnlab.sweeps.api`: the sweep: checks, the study, the worker processes.
- :mod:`cnnlab.sweeps.report`: the final runs over seeds, report.md, results.json, plots, ``--show``.

See docs/sweeps.md.
"""

from __future__ import annotations

# None of these import torch or Optuna at import time; they do so when a sweep starts.
from cnnlab.sweeps.api import SweepInterrupted, SweepResult, sweep
from cnnlab.sweeps.space import SearchSpace, build_space
from cnnlab.sweeps.storage import StorageError

__all__ = [
    "SearchSpace",
    "StorageError",
    "SweepInterrupted",
    "SweepResult",
    "build_space",
    "sweep",
    "sweep_state",
]
