"""The run store: run directories, safe checkpoints, the index of runs, and seed statistics.

Names are imported on first use, so that the index and run-directory code (no torch) loads fast
in tools that only list runs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CHECKPOINT_FORMAT": "cnnlab.runs.checkpoint",
    "TrainedModel": "cnnlab.runs.checkpoint",
    "find_checkpoint": "cnnlab.runs.checkpoint",
    "load_checkpoint": "cnnlab.runs.checkpoint",
    "load_trained": "cnnlab.runs.checkpoint",
    "save_checkpoint": "cnnlab.runs.checkpoint",
    "Run": "cnnlab.runs.run",
    "RunDir": "cnnlab.runs.rundir",
    "default_runs_dir": "cnnlab.runs.rundir",
    "RunIndex": "cnnlab.runs.index",
    "Summary": "cnnlab.runs.stats",
    "WelchTest": "cnnlab.runs.stats",
    "summarize": "cnnlab.runs.stats",
    "welch_test": "cnnlab.runs.stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlab.runs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
