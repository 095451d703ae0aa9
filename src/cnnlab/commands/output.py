"""Shared output helpers for the CLI: one console for results (stdout), one for messages (stderr)."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False)
# soft_wrap: error messages hold paths that must not be split across lines.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def one_line_warnings(keep_source: Callable[[], bool] = lambda: False) -> Iterator[None]:
    """Show every warning raised inside as one readable line on stderr ("Warning: ..."), not as
    Python's "path:line: Category: message" plus a source line (kept while ``keep_source()``,
    e.g. under ``--debug``)."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if keep_source():
            previous(message, category, filename, lineno, file, line)
        else:
            err_console.print(f"[yellow]Warning:[/] {escape(str(message))}", highlight=False)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout, with no rich markup (for scripts)."""
    print(json.dumps(obj, indent=2, default=str))


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, title: str | None = None
) -> None:
    """Print ``rows`` (dicts) as a rich table; ``columns`` picks and orders the keys."""
    columns = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title)
    for index, column in enumerate(columns):
        # The first column names the row: never wrapped. Other long cells (paths) fold onto more
        # lines instead of being cut with "...".
        table.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(_cell(row, column) for column in columns))
    console.print(table)


def _cell(row: Mapping[str, Any], column: str) -> str:
    """A float as people read it (:func:`cnnlab.formatting.format_value`): an accuracy column, or
    a value in a row whose "metric" is an accuracy, as a percentage."""
    from cnnlab.formatting import format_value

    key = str(row["metric"]) if "metric" in row and column != "metric" else column
    return format_value(key, row.get(column, ""))
