"""Do two configurations differ by more than seed noise? The work of ``cnnlab runs compare``.

Each side is one finished run or a group of them (the runs of ``cnnlab train --seeds``): a run's
name or directory, a group's name, a :class:`~cnnlab.runs.Run`, a list of Runs, or the
:class:`~cnnlab.training.seed_study.SeedStudy` that ``train(..., seeds=...)`` returned. Welch's t-test
compares each final metric the two sides share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cnnlab.errors import UsageError
from cnnlab.formatting import format_difference, format_difference_interval, format_mean_std, format_number
from cnnlab.runs.stats import WelchTest

Side = Any  # str | os.PathLike | Run | list[Run] | SeedStudy
COLUMNS = ["metric", "A mean ± std", "B mean ± std", "A - B", "95% CI of A - B", "p"]


@dataclass
class RunComparison:
    """The two sides' labels and sizes, and one :class:`~cnnlab.runs.stats.WelchTest` a metric."""

    a: str
    b: str
    n_a: int
    n_b: int
    metrics: dict[str, WelchTest]

    @property
    def title(self) -> str:
        return f"A = {self.a} (n={self.n_a})   B = {self.b} (n={self.n_b})"

    def rows(self) -> list[list[Any]]:
        return [
            [name, mean_std(c.a, name), mean_std(c.b, name), format_difference(name, c.difference),
             format_difference_interval(name, c.ci_low, c.ci_high) if c.ci_low is not None else "",
             format_number(c.p_value) if c.p_value is not None else ""]  # text: never shown in %
            for name, c in self.metrics.items()
        ]  # fmt: skip

    def verdicts(self) -> list[str]:
        return [f"{name}: {c.verdict()}" for name, c in self.metrics.items()]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "metrics": {k: c.to_dict() for k, c in self.metrics.items()}}

    def _repr_html_(self) -> str:
        from cnnlab.display import html_table

        return html_table(COLUMNS, self.rows(), title=self.title, notes=self.verdicts(), right=COLUMNS[3:])

    def __repr__(self) -> str:
        from cnnlab.display import text_table

        return "\n".join([text_table(COLUMNS, self.rows(), title=self.title), *self.verdicts()])


def compare(
    first: Side,
    second: Side,
    *,
    metrics: list[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
) -> RunComparison:
    """Welch's t-test between two runs or groups on each final metric (or only ``metrics``)."""
    from cnnlab.training.seed_study import compare_finals

    finals_a, label_a = side_finals(first, runs_dir)
    finals_b, label_b = side_finals(second, runs_dir)
    comparisons = compare_finals(finals_a, finals_b)
    if metrics:
        unknown = sorted(set(metrics) - set(comparisons))
        if unknown:
            raise UsageError(f"No metric {', '.join(unknown)} in both; they have: {', '.join(comparisons)}.")
        comparisons = {name: comparisons[name] for name in metrics}
    return RunComparison(label_a, label_b, len(finals_a), len(finals_b), comparisons)


def side_finals(
    side: Side, runs_dir: str | os.PathLike[str] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The final metrics of one side's finished runs, and the side's label."""
    runs = getattr(side, "runs", None)  # a SeedStudy
    if runs is not None:
        return _finals_of_runs(runs), str(side.group)
    if isinstance(side, list | tuple):
        return _finals_of_runs(side), ", ".join(run.name for run in side)
    if hasattr(side, "dir") and hasattr(side, "result"):  # a Run
        return _finals_of_runs([side]), side.name
    return run_or_group_finals(os.fspath(side), runs_dir)[0], os.fspath(side)


def run_or_group_finals(
    name: str, runs_dir: str | os.PathLike[str] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The final metrics of a run (one) or of a group's finished runs, and their names."""
    from cnnlab.runs.rundir import RunDir

    try:
        run_dir = RunDir.find(name, runs_dir)
    except UsageError:
        return group_finals(name, runs_dir)
    result = run_dir.read_result()
    if result.get("status") != "finished":
        raise UsageError(
            f"Run {name} is {result.get('status', 'running')}, not finished: nothing to compare."
        )
    return [result["final"]], [run_dir.name]


def group_finals(
    group: str, runs_dir: str | os.PathLike[str] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The final metrics and names of a group's finished runs; a usage error when there are none."""
    from cnnlab.runs.index import RunIndex
    from cnnlab.runs.rundir import default_runs_dir

    index = RunIndex(default_runs_dir(runs_dir))
    rows = [row for row in index.list(group=group) if row["status"] == "finished"]
    if not rows:
        raise UsageError(
            f"'{group}' is neither a run nor a group with finished runs in {index.runs_dir} "
            "(see `cnnlab runs list`)."
        )
    return [row["result"]["final"] for row in rows], [row["run_id"] for row in rows]


def mean_std(summary: Any, metric: str = "") -> str:
    """``64.33 ± 0.63%`` for an accuracy, ``0.3125 ± 0.012`` otherwise (:func:`format_mean_std`)."""
    return format_mean_std(metric, summary.mean, summary.std)


def _finals_of_runs(runs: Any) -> list[dict[str, Any]]:
    unfinished = [run.name for run in runs if run.status != "finished"]
    if unfinished or not runs:
        raise UsageError(
            f"Only finished runs can be compared; not finished: {', '.join(unfinished) or '(none given)'}."
        )
    return [run.final for run in runs]
