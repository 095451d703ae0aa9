"""How cnnlab writes numbers, shapes, durations and tables for people: one function per kind.

Everything printed or written into a report goes through these, so one concept has one form:

- :func:`format_count` ``1,234,567`` (exact, thousands separated) and :func:`format_short_count`
  ``1.23 M`` (three significant digits and a k/M/G suffix);
- :func:`format_bytes` ``1.5 MiB``; :func:`format_shape` ``3x32x32``; :func:`format_duration`
  ``7 min 5 s``;
- :func:`markdown_table`, the one Markdown table writer (``report.md``, ``--format markdown``),
  and :func:`fit_columns`, which columns of a terminal table fit its width;

- :func:`format_mean_std` a metric over seeds (``64.33 ± 0.63%``), :func:`format_interval` its
  confidence interval and :func:`format_difference` a difference of two means (``+1.23 points``);
- :func:`format_value` a metric's value: an accuracy as a percentage (``98.31%``) everywhere
  (tables, progress, summaries; curves.png plots it in %), other floats by :func:`format_number`
  with about five significant digits, trailing zeros kept, so 1.0003 never reads ``1``.

The experiments' report tables (means with their std) are :mod:`cnnlab.experiments.report`'s.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any


def format_count(value: int) -> str:
    """1234567 -> ``1,234,567``."""
    return f"{value:,}"


def format_short_count(value: int) -> str:
    """1234567 -> ``1.23 M``; 6.3e12 -> ``6.3 T``, never ``6.3e+03 G``: three significant digits
    and a prefix from k to P, so the number before it stays below 1,000 (below 1,000 the number
    itself)."""
    prefixes = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
    for index, (threshold, suffix) in enumerate(prefixes):
        if abs(value) >= threshold:
            scaled = value / threshold
            if round(abs(scaled)) >= 1000 and index > 0:  # 999,999,999 is 1 G, not 1000 M
                return f"{value / prefixes[index - 1][0]:.3g} {prefixes[index - 1][1]}"
            return f"{scaled:.3g} {suffix}" if abs(scaled) < 100 else f"{scaled:.0f} {suffix}"
    return str(value)


def format_bytes(value: int) -> str:
    """1572864 -> ``1.5 MiB`` (binary units: KiB, MiB, GiB)."""
    for threshold, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= threshold:
            return f"{value / threshold:.3g} {suffix}"
    return f"{value} B"


def format_shape(shape: Sequence[int] | None) -> str:
    """(3, 32, 32) -> ``3x32x32``; None -> an empty string."""
    return "" if shape is None else "x".join(str(s) for s in shape)


def format_duration(seconds: float) -> str:
    """``42 s``, ``7 min 5 s``, ``3 h 12 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, compact: bool = False) -> str:
    """A GitHub-flavoured Markdown table, ending in a newline; cells are written as given.

    ``|`` inside a cell is escaped and a line break becomes a space, so any text stays in its cell.
    ``compact`` writes the rule under the header as ``|---|---|`` (for wide tables read in a
    terminal) instead of ``| --- | --- |``.
    """
    rule = "|" + "---|" * len(columns) if compact else _markdown_row(["---"] * len(columns))
    lines = [_markdown_row([str(column) for column in columns]), rule]
    lines += [_markdown_row([str(cell) for cell in row]) for row in rows]
    return "\n".join(lines) + "\n"


def fit_columns(
    rows: Sequence[dict[str, str]],
    columns: Sequence[str],
    drop_order: Sequence[Sequence[str]],
    width: int,
    wrapped: dict[str, int] | None = None,
    header: Callable[[str], str] = str,
) -> list[str]:
    """The ``columns`` that fit a terminal table of ``width`` characters with every cell whole:
    the groups of ``drop_order`` are left out one by one (first the first) until it fits, or none
    is left. A column of ``wrapped`` may wrap, to no fewer characters than its number there."""
    shown = list(columns)
    for group in drop_order:
        if table_width(rows, shown, wrapped, header) <= width:
            break
        shown = [column for column in shown if column not in group]
    return shown


def table_width(
    rows: Sequence[dict[str, str]],
    columns: Sequence[str],
    wrapped: dict[str, int] | None = None,
    header: Callable[[str], str] = str,
) -> int:
    """Characters of a rich table of ``columns``: its cells plus one space each side and a border."""
    total = 1
    for column in columns:
        lines = [len(line) for line in header(column).splitlines()]
        cell_width = max(lines + [len(row[column]) for row in rows])
        total += min(cell_width, (wrapped or {}).get(column, cell_width)) + 3
    return total


def hidden_columns_note(hidden: Sequence[str]) -> str:
    """The caption of a table that :func:`fit_columns` left ``hidden`` columns out of."""
    return f"Not shown at this width: {', '.join(hidden)} (widen the terminal, or --format markdown)."


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def is_accuracy(key: str) -> bool:
    """``test_accuracy``, ``val_accuracy``, ``accuracy``: a fraction shown as a percentage."""
    return key.endswith("accuracy")


def format_number(value: float) -> str:
    """A float with about five significant digits, trailing zeros kept (so 1.0003 is "1.0003" and
    1.0 is "1.0000", never "1"); very small or very large values in scientific notation."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0:
        return "0"
    if size < 1e-3 or size >= 1e6:
        return f"{value:.3g}"
    decimals = min(4, max(1, 4 - math.floor(math.log10(size))))
    return f"{value:.{decimals}f}"


def format_value(key: str, value: Any) -> str:
    """A metric's value for people: ``98.31%`` for an accuracy, ``0.0612`` for a loss; ints and
    text as they are."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if is_accuracy(key) and math.isfinite(value):
        return f"{value:.2%}"
    return format_number(value)


def format_mean_std(key: str, mean: float, std: float | None) -> str:
    """Mean ± sample std of a metric over seeds: ``64.33 ± 0.63%`` for an accuracy (both in
    percent, as every other accuracy cnnlab prints), ``0.6433 ± 0.0063`` otherwise; the mean
    alone without a std (one seed)."""
    if std is None:
        return format_value(key, float(mean))
    if is_accuracy(key):
        return f"{mean * 100:.2f} ± {std * 100:.2f}%"
    return f"{mean:.4g} ± {std:.2g}"


def format_interval(key: str, low: float, high: float) -> str:
    """A confidence interval: ``63.70% to 64.96%`` for an accuracy, ``0.31 to 0.35`` otherwise."""
    if is_accuracy(key):
        return f"{low * 100:.2f}% to {high * 100:.2f}%"
    return f"{low:.4g} to {high:.4g}"


def format_difference(key: str, difference: float) -> str:
    """A difference of means: ``+1.23 points`` for accuracies (percentage points), else ``-0.012``."""
    if is_accuracy(key):
        return f"{difference * 100:+.2f} points"
    return f"{difference:+.4g}"


def format_difference_interval(key: str, low: float, high: float) -> str:
    """The confidence interval of a difference: ``-34.97 to +15.44 points`` for accuracies."""
    if is_accuracy(key):
        return f"{low * 100:+.2f} to {high * 100:+.2f} points"
    return f"{low:.4g} to {high:.4g}"


def factory_label(factory: Callable, *, qualified: bool = False) -> str:
    """A model factory's (or class's) name for people: ``small_alexnet(0.25)`` for a
    ``functools.partial``, prefixed with its module when ``qualified``.

    Here, not only in :mod:`cnnlab.models.registry` (which imports torch), so that the experiment
    plans are labelled without torch. The two are the same function: the next regeneration of
    the zoo table (whose fingerprint hashes the model sources) can make the registry import it."""
    if isinstance(factory, functools.partial):
        arguments = [repr(a) for a in factory.args] + [f"{k}={v!r}" for k, v in factory.keywords.items()]
        return f"{factory_label(factory.func, qualified=qualified)}({', '.join(arguments)})"
    name = getattr(factory, "__qualname__", None) or type(factory).__name__
    module = getattr(factory, "__module__", None)
    return f"{module}.{name}" if qualified and module else name
