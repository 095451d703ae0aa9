"""cnnlab.experiments: the course's experiments, each named, versioned and run by one command.

>>> from cnnlab.experiments import run_experiment, list_experiments
>>> result = run_experiment("fc-vs-cnn", quick=True)
>>> print(result.report_path.read_text())

Each experiment reproduces its notebook's setting, then shows how to do better, and writes
``report.md`` (tables of mean ± std over seeds, figures, the course's numbers and whether the
difference is within seed noise, an answer to the learner's question) and ``results.json``.
See docs/experiments.md.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so that listing the experiments (names, plans, estimates) never imports
# torch: ``cnnlab experiment list`` answers in well under 2 s. The catalog registers itself when
# the experiment table is first read (:func:`list_experiments`, :func:`get_experiment`).
_EXPORTS = {
    "catalog": "cnnlab.experiments.catalog",
    "Cell": "cnnlab.experiments.cells",
    "Context": "cnnlab.experiments.context",
    "CourseCheck": "cnnlab.experiments.course",
    "check_reference": "cnnlab.experiments.course",
    "prediction_interval": "cnnlab.experiments.course",
    "RangeTest": "cnnlab.experiments.lr_finder",
    "lr_range_test": "cnnlab.experiments.lr_finder",
    "PixelPermutation": "cnnlab.experiments.permutation",
    "CellSpec": "cnnlab.experiments.registry",
    "Experiment": "cnnlab.experiments.registry",
    "ExtraWork": "cnnlab.experiments.registry",
    "Plan": "cnnlab.experiments.registry",
    "Reference": "cnnlab.experiments.registry",
    "Size": "cnnlab.experiments.registry",
    "experiment": "cnnlab.experiments.registry",
    "get_experiment": "cnnlab.experiments.registry",
    "list_experiments": "cnnlab.experiments.registry",
    "ExperimentResult": "cnnlab.experiments.runner",
    "run_experiment": "cnnlab.experiments.runner",
    "Estimate": "cnnlab.experiments.timing",
    "estimate": "cnnlab.experiments.timing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlab.experiments' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if name == "catalog" else getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
