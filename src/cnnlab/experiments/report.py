"""``report.md``: a Markdown document built from blocks, and the formatting of its metrics.

Every number in a table goes through :func:`format_metric` or :func:`format_summary`, so the tests
(and a reader) can recompute it from the per-seed values in ``results.json``: accuracies as
percentages with two decimals, ``mean ± std`` with the sample std over seeds. Counts, durations
and tables are written by :mod:`cnnlab.formatting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnlab.formatting import format_mean_std, markdown_table
from cnnlab.runs.stats import Summary


def is_percent(metric: str) -> bool:
    """Accuracies are shown in percent; everything else as it is."""
    return metric.endswith("accuracy")


def format_metric(value: float, metric: str) -> str:
    """One value: ``87.12%`` for accuracies, four significant digits otherwise."""
    if is_percent(metric):
        return f"{value * 100:.2f}%"
    return f"{value:.4g}"


def format_range(low: float, high: float, metric: str) -> str:
    """A course number, or the range a truncated print leaves: ``64.00-64.99%``."""
    if high == low:
        return format_metric(low, metric)
    if is_percent(metric):
        return f"{low * 100:.2f}-{high * 100:.2f}%"
    return f"{low:.4g}-{high:.4g}"


def format_summary(summary: Summary, metric: str) -> str:
    """``87.12 ± 0.35%`` (mean ± sample std over seeds), or the single value for one seed."""
    if summary.std is None:
        return format_metric(summary.mean, metric)
    return format_mean_std(metric, summary.mean, summary.std)


def metric_title(metric: str) -> str:
    """``test_accuracy`` -> ``test accuracy``."""
    return metric.replace("_", " ")


class Report:
    """Markdown blocks in order; :meth:`markdown` joins them."""

    def __init__(self) -> None:
        self.blocks: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(f"{'#' * level} {text}")

    def text(self, *paragraphs: str) -> None:
        self.blocks.extend(p.strip() for p in paragraphs if p.strip())

    def bullets(self, items: Sequence[str]) -> None:
        if items:
            self.blocks.append("\n".join(f"- {item}" for item in items))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A Markdown table; cells are written as given (format numbers first)."""
        self.blocks.append(markdown_table(columns, rows).rstrip("\n"))

    def image(self, path: str, caption: str) -> None:
        """An embedded PNG; ``path`` relative to the report."""
        self.blocks.append(f"![{caption}]({path})\n\n*{caption}*")

    def code(self, text: str, language: str = "") -> None:
        self.blocks.append(f"```{language}\n{text.rstrip()}\n```")

    def extend(self, other: Report) -> None:
        self.blocks.extend(other.blocks)

    def markdown(self) -> str:
        return "\n\n".join(self.blocks) + "\n"
