"""How cnnlab writes numbers, shapes, durations and tables for people: one function per kind.

Everything printed or written into a report goes through these, so one concept has one form:

- :func:`format_count` ``1,234,567`` (exact, thousands separated) and :func:`format_short_count`
  ``1.23 M`` (three significant digits and a k/M/G suffix);
- :func:`format_bytes` ``1.5 MiB``; :func:`format_shape` ``3x32x32``; :func:`format_duration`
  ``7 min 5 s``;
- :func:`markdown_table`, the one Markdown table writer (``report.md``, ``--format markdown``).

Metric values (accuracies in percent, means with their std) are the experiments' business:
:mod:`cnnlab.experiments.report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_count(value: int) -> str:
    """1234567 -> ``1,234,567``."""
    return f"{value:,}"


def format_short_count(value: int) -> str:
    """1234567 -> ``1.23 M`` (k, M, G; below 1,000 the number itself)."""
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g} {suffix}"
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


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
