"""Several seeds of one configuration: how much of a result is the setting, how much is luck.

``train_seeds`` runs the same settings once per seed, as a group of runs named ``GROUP-seedS``,
and summarises each final metric by its mean, sample std and 95% Student-t confidence interval.
``compare_groups`` tells whether two groups' means differ by more than that seed noise (Welch's
t-test).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.data import ImageDataset
from cnnlab.errors import ConfigError, UsageError
from cnnlab.runs.run import Run
from cnnlab.runs.rundir import LOCK_NAME, RunDir, default_runs_dir, safe_run_name
from cnnlab.runs.stats import Summary, WelchTest, summarize, welch_test
from cnnlab.training.api import reopen, resume, train

# Entries of a run's final record that are positions, not outcomes.
NOT_METRICS = ("epoch", "step", "lr")
SUMMARY_COLUMNS = ["metric", "mean", "std", "95% CI", "n"]


@dataclass
class SeedStudy:
    """The runs of one configuration over several seeds, and the statistics of their metrics."""

    group: str
    runs: list[Run]
    summary: dict[str, Summary]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "runs": [str(run.dir) for run in self.runs],
            "seeds": [run.config["seed"] for run in self.runs],
            "summary": {metric: s.to_dict() for metric, s in self.summary.items()},
        }

    def summary_rows(self) -> list[list[Any]]:
        return summary_rows(self.summary)

    def _repr_html_(self) -> str:
        from cnnlab.display import html_table

        seeds = ", ".join(str(run.config.get("seed")) for run in self.runs)
        title = f"{self.group}: {len(self.runs)} seeds ({seeds})"
        return html_table(SUMMARY_COLUMNS, self.summary_rows(), title=title, right=SUMMARY_COLUMNS[1:])

    def __repr__(self) -> str:
        from cnnlab.display import text_table

        return text_table(SUMMARY_COLUMNS, self.summary_rows(), title=f"{self.group}: {len(self.runs)} seeds")


def summary_rows(summary: dict[str, Summary]) -> list[list[Any]]:
    """metric, mean, std, 95% CI, n (:data:`SUMMARY_COLUMNS`): the table of ``cnnlab train --seeds``."""
    from cnnlab.formatting import format_interval, format_value

    # Accuracies in percent, as everywhere else (a fraction beside a percentage misleads).
    return [
        [metric, format_value(metric, float(s.mean)),
         _std_text(metric, s.std), format_interval(metric, s.ci_low, s.ci_high)
         if s.ci_low is not None and s.ci_high is not None else "(n=1)", s.n]
        for metric, s in summary.items()
    ]  # fmt: skip


def _std_text(metric: str, std: float | None) -> str:
    """A std on its metric's scale: ``0.63%`` (percentage points) for an accuracy."""
    from cnnlab.formatting import format_number, is_accuracy

    if std is None:
        return ""
    return f"{std * 100:.2f}%" if is_accuracy(metric) else format_number(float(std))


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` -> the list of seeds."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, dash, high = part.partition("-")
            seeds.extend(range(int(low), int(high) + 1) if dash else [int(part)])
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give seeds as 0,1,2 or a range such as 0-4.") from None
    if len(seeds) < 1 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: give at least one seed, each once.")
    return seeds


def train_seeds(
    model: Any = None, dataset: Any = None, *, seeds: Sequence[int], resume: bool = False, **options: Any
) -> SeedStudy:
    """Run :func:`cnnlab.training.train` once per seed; the runs form the group ``name`` (or a default).

    ``resume``: continue the group where it stopped (the runs dir holds its runs): a seed's finished
    run is read back as it is, an interrupted one resumed from its last checkpoint, a missing one trained.
    """
    if not seeds:
        raise ConfigError("train_seeds needs at least one seed.")
    group = options.pop("name", None) or _default_group(model, dataset, options)
    start = _continue_or_train if resume else train
    runs = [
        start(model, dataset, **options, seed=seed, name=f"{group}-seed{seed}", group=group) for seed in seeds
    ]
    return SeedStudy(group=group, runs=runs, summary=summarize_metrics(run.final for run in runs))


def _continue_or_train(model: Any, dataset: Any, *, name: str, **options: Any) -> Run:
    """The run ``name`` of the runs dir: read back if finished, resumed if interrupted, else trained."""
    folder = RunDir(default_runs_dir(options.get("runs_dir")) / safe_run_name(name))
    if folder.root.is_dir() and not folder.config_path.is_file():
        # Killed between making the folder and writing its settings: nothing in it to keep.
        if any(path.name != LOCK_NAME for path in folder.root.iterdir()):
            raise UsageError(folder.taken_message())
        shutil.rmtree(folder.root)
    if not folder.root.is_dir():
        return train(model, dataset, name=name, **options)
    own_model = None if model is None or isinstance(model, str) else model
    if folder.read_result().get("status") == "finished":
        return reopen(folder.root, model=own_model)
    return resume(
        folder.root,
        model=own_model,
        dataset=dataset if isinstance(dataset, ImageDataset) else None,
        test_data=options.get("test_data"),
        progress=options.get("progress", True),
    )


def summarize_metrics(finals: Iterable[dict[str, Any]]) -> dict[str, Summary]:
    """Per metric present in every run's final record: the summary over runs."""
    finals = list(finals)
    names = [k for k in finals[0] if k not in NOT_METRICS] if finals else []
    return {
        name: summarize([float(final[name]) for final in finals])
        for name in names
        if all(isinstance(final.get(name), int | float) for final in finals)
    }


def compare_finals(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, WelchTest]:
    """Welch's t-test per metric that both sides have."""
    common = [k for k in (a[0] if a else {}) if k not in NOT_METRICS and all(k in f for f in a + b)]
    return {name: welch_test([f[name] for f in a], [f[name] for f in b]) for name in common}


def _default_group(model: Any, dataset: Any, options: dict[str, Any]) -> str:
    """MODEL-DATASET-TIME, with -2, -3, ... when the runs dir already holds a group of that name
    (two studies started within one second would otherwise share their group and its statistics)."""
    model_name = model if isinstance(model, str) else options.get("model", "model")
    dataset_name = Path(dataset).name if isinstance(dataset, str | Path) else options.get("dataset", "data")
    base = f"{model_name}-{dataset_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs_dir = default_runs_dir(options.get("runs_dir"))
    group, number = base, 1
    while any(runs_dir.glob(f"{safe_run_name(group)}-seed*")):
        number += 1
        group = f"{base}-{number}"
    return group
