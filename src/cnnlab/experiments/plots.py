"""The figures of the reports: curves over epochs, bars with the seeds' spread, a histogram, the
learning-rate range tests. Built without pyplot (``matplotlib.figure.Figure``) and saved by
:func:`cnnlab.analysis.visualize.save_figure` (atomic PNG writes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from cnnlab.experiments.cells import Cell
from cnnlab.experiments.lr_finder import RangeTest
from cnnlab.experiments.report import is_percent, metric_title

# Dashed for the training split, solid for the test split: one colour a cell.
SPLIT_STYLES = {"train": "--", "val": ":", "test": "-"}


def _scale(metric: str) -> float:
    return 100.0 if is_percent(metric) else 1.0


def _unit(metric: str) -> str:
    return " (%)" if is_percent(metric) else ""


def curves_figure(cells: Sequence[Cell], metrics: Sequence[str], title: str) -> Figure:
    """Mean over seeds per epoch for each cell and metric, with a band of +- one std."""
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.add_subplot()
    colours = _colours(len(cells))
    for cell, colour in zip(cells, colours, strict=True):
        for metric in metrics:
            epochs, means, stds = cell.curve(metric)
            if not epochs:
                continue
            scale = _scale(metric)
            mean, std = np.asarray(means) * scale, np.asarray(stds) * scale
            style = SPLIT_STYLES.get(metric.partition("_")[0], "-")
            axes.plot(
                epochs,
                mean,
                style,
                color=colour,
                marker="o",
                markersize=3,
                label=f"{cell.label}: {metric_title(metric)}",
            )
            axes.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    axes.set_xlabel("epoch")
    axes.set_ylabel(
        ", ".join(dict.fromkeys(metric_title(m).split(" ", 1)[-1] for m in metrics)) + _unit(metrics[0])
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    axes.set_title(title, fontsize=10)
    return figure


def bars_figure(
    cells: Sequence[Cell], metric: str, title: str, course: Mapping[str, float] | None = None
) -> Figure:
    """A bar a cell (mean over seeds, std as error bar), a dot a seed, the course's number as a star."""
    figure = Figure(figsize=(max(5.0, 1.3 * len(cells) + 1.5), 4.0), layout="constrained")
    axes = figure.add_subplot()
    scale = _scale(metric)
    positions = np.arange(len(cells))
    colours = _colours(len(cells))
    for position, cell, colour in zip(positions, cells, colours, strict=True):
        summary = cell.summary(metric)
        axes.bar(
            position,
            summary.mean * scale,
            color=colour,
            alpha=0.6,
            yerr=(summary.std or 0) * scale,
            capsize=4,
        )
        values = np.asarray(cell.values(metric)) * scale
        axes.plot(np.full(len(values), position), values, "k.", markersize=5)
        if course and cell.label in course:
            axes.plot(position, course[cell.label] * scale, "r*", markersize=12)
    if course:
        axes.plot([], [], "r*", markersize=10, label="course")
        axes.plot([], [], "k.", label="our seeds")
        axes.legend(fontsize=8)
    axes.set_xticks(positions, [_wrap(cell.label) for cell in cells], fontsize=8)
    axes.set_ylabel(metric_title(metric) + _unit(metric))
    _zoom(
        axes,
        [v * scale for cell in cells for v in cell.values(metric)]
        + [v * scale for v in (course or {}).values()],
    )
    axes.grid(axis="y", alpha=0.3)
    axes.set_title(title, fontsize=10)
    return figure


def histogram_figure(
    values: Sequence[float], metric: str, title: str, marks: Mapping[str, float] | None = None
) -> Figure:
    """A histogram of one metric over seeds, with labelled vertical lines (``marks``)."""
    figure = Figure(figsize=(6.5, 3.8), layout="constrained")
    axes = figure.add_subplot()
    scale = _scale(metric)
    scaled = np.asarray(values) * scale
    axes.hist(scaled, bins=max(5, min(20, len(values) // 2)), color="tab:blue", alpha=0.7, edgecolor="white")
    marks = marks or {}
    for (label, value), colour in zip(marks.items(), _colours(len(marks), "Set1"), strict=True):
        axes.axvline(value * scale, color=colour, linestyle="--", label=label)
    if marks:
        axes.legend(fontsize=8)
    axes.set_xlabel(metric_title(metric) + _unit(metric))
    axes.set_ylabel("seeds")
    axes.set_title(title, fontsize=10)
    return figure


def range_tests_figure(tests: Mapping[str, RangeTest], title: str) -> Figure:
    """Each range test's smoothed loss against the learning rate (log scale), its pick marked."""
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.add_subplot()
    lowest, highest = np.inf, -np.inf
    for (name, test), colour in zip(tests.items(), _colours(len(tests)), strict=True):
        axes.plot(test.lrs, test.smoothed, color=colour, label=f"{name}: picked {test.suggestion:.2g}")
        nearest = int(np.argmin(np.abs(np.log(test.lrs) - np.log(test.suggestion))))
        axes.plot([test.lrs[nearest]], [test.smoothed[nearest]], "o", color=colour, markersize=6)
        finite = [v for v in test.smoothed if np.isfinite(v)]
        lowest, highest = min(lowest, min(finite)), max(highest, finite[0])
    axes.set_xscale("log")
    if np.isfinite(lowest) and np.isfinite(highest):
        margin = 0.15 * (highest - lowest)
        axes.set_ylim(lowest - margin, highest + 3 * margin)
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss (smoothed)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7)
    axes.set_title(title, fontsize=10)
    return figure


def _colours(count: int, name: str = "tab10") -> list:
    import matplotlib

    colormap = matplotlib.colormaps[name]
    return [colormap(i % colormap.N) for i in range(count)]


def _wrap(label: str, width: int = 16) -> str:
    """Break a long label at spaces so the bar labels do not overlap."""
    words, lines, line = label.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _zoom(axes, values: Sequence[float]) -> None:
    """Bars start at 0 unless every value sits high up, where differences would be invisible."""
    if not values:
        return
    low, high = min(values), max(values)
    if low > 0 and (high - low) < 0.5 * high:
        span = max(high - low, 0.02 * high)
        axes.set_ylim(max(0.0, low - 0.6 * span), high + 0.4 * span)
