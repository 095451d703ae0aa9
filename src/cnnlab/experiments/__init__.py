"""cnnlab.experiments: the course's experiments, each named, versioned and run by one command.

>>> from cnnlab.experiments import run_experiment, list_experiments
>>> result = run_experiment("fc-vs-cnn", quick=True)
>>> print(result.report_path.read_text())

Each experiment reproduces its notebook's setting, then shows how to do better, and writes
``report.md`` (tables of mean ± std over seeds, figures, the course's numbers and whether the
difference is within seed noise, an answer to the learner's question) and ``results.json``.
See docs/experiments.md.
"""

from cnnlab.experiments import catalog
from cnnlab.experiments.cells import Cell
from cnnlab.experiments.context import Context
from cnnlab.experiments.course import CourseCheck, check_reference, prediction_interval
from cnnlab.experiments.lr_finder import RangeTest, lr_range_test
from cnnlab.experiments.permutation import PixelPermutation
from cnnlab.experiments.registry import (
    CellSpec,
    Experiment,
    ExtraWork,
    Plan,
    Reference,
    Size,
    experiment,
    get_experiment,
    list_experiments,
)
from cnnlab.experiments.runner import ExperimentResult, run_experiment
from cnnlab.experiments.timing import Estimate, estimate

__all__ = [
    "Cell",
    "CellSpec",
    "Context",
    "CourseCheck",
    "Estimate",
    "Experiment",
    "ExperimentResult",
    "ExtraWork",
    "PixelPermutation",
    "Plan",
    "RangeTest",
    "Reference",
    "Size",
    "check_reference",
    "estimate",
    "experiment",
    "get_experiment",
    "list_experiments",
    "lr_range_test",
    "prediction_interval",
    "catalog",
    "run_experiment",
]
