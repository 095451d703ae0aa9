"""How cnnlab's objects show themselves in Jupyter and Colab, and how its errors do.

Every object the Python API returns has a ``_repr_html_`` (a table, a figure as an inline PNG) and a
plain-text ``__repr__``; the helpers here build both, so each class only says *what* to show.
Nothing here imports torch, matplotlib or IPython at import time: ``import cnnlab`` stays cheap.

In IPython, :func:`register_error_display` makes a :class:`~cnnlab.errors.CnnlabError` show as its
one line (``UnknownNameError: Unknown model 'lenet'. Did you mean 'lenet5'? ...``) instead of a
traceback through cnnlab and torch; other exceptions keep their full traceback.
"""

from __future__ import annotations

import base64
import html
import io
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Inline figures are drawn at this resolution: sharp on a laptop, a few tens of kB each.
INLINE_DPI = 90
TEXT_WIDTH = 160


def in_notebook() -> bool:
    """True inside a Jupyter or Colab kernel (not in a terminal IPython, not in a script)."""
    shell = _ipython_shell()
    if shell is None:
        return False
    return "IPKernelApp" in getattr(shell, "config", {}) or type(shell).__name__ == "ZMQInteractiveShell"


def _ipython_shell() -> Any:
    """The running IPython shell, or None; never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def register_error_display(shell: Any = None) -> bool:
    """Show cnnlab's errors in IPython as their one-line message; True when a shell was found."""
    from cnnlab.errors import CnnlabError

    shell = shell or _ipython_shell()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((CnnlabError,), _one_line_error)
    return True


def _one_line_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """IPython's custom exception hook: print the message alone, on stderr.

    IPython's ``run_code`` calls the hook and shows nothing else; the cell still fails (the kernel
    replies with an error, so nbclient and "Run all" stop there), but what the learner reads is the
    line that says what to do. ``%tb`` still shows the full traceback.
    """
    print(f"{etype.__name__}: {value}", file=sys.stderr)
    return []


# -- Tables ------------------------------------------------------------------------------------


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
    right: Iterable[str] = (),
) -> str:
    """A small HTML table; ``right`` names the columns to right-align (numbers)."""
    right = set(right)
    align = ["right" if column in right else "left" for column in columns]
    head = "".join(
        f'<th style="text-align:{a}">{escape(c)}</th>' for c, a in zip(columns, align, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="text-align:{a};white-space:pre">{escape(cell_text(v))}</td>'
            for v, a in zip(row, align, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    caption = (
        f"<caption style='caption-side:top;text-align:left'><b>{escape(title)}</b></caption>" if title else ""
    )
    footer = "".join(f"<div>{escape(note)}</div>" for note in notes)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{footer}"


def text_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> str:
    """The same table as plain text, columns padded to their widest cell."""
    cells = [[cell_text(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = [title] if title else []
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def record_table(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Columns (every key that occurs, in order of first appearance) and rows of a list of dicts."""
    if columns is None:
        seen: dict[str, None] = {}
        for record in records:
            seen.update(dict.fromkeys(record))
        columns = list(seen)
    return list(columns), [[record.get(c, "") for c in columns] for record in records]


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def escape(text: Any) -> str:
    return html.escape(str(text))


def rich_text(renderable: Any, width: int = TEXT_WIDTH) -> str:
    """A rich table (or any renderable) as plain text, for a ``__repr__``."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue().rstrip()


# -- Figures -----------------------------------------------------------------------------------


def figure_png(figure: Any, dpi: int = INLINE_DPI) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards if pyplot knows it)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(figure)
    return buffer.getvalue()


def png_img(png: bytes, alt: str = "", max_width: str = "100%") -> str:
    """An ``<img>`` tag holding ``png`` inline as base64 (no file needed beside the notebook)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" style="max-width:{max_width}"/>'


def file_img(path: str | Path, alt: str = "") -> str:
    """An inline ``<img>`` of a PNG file, or a note when it is missing."""
    path = Path(path)
    if not path.is_file():
        return f"<div><i>{escape(path)} is missing</i></div>"
    return png_img(path.read_bytes(), alt or path.name)


class Picture:
    """One figure drawn for a person: shown inline in a notebook, saved as a PNG with :meth:`save`.

    ``name`` is the file's stem, ``label`` what it shows ("filters of conv1"), ``notes`` the lines
    the CLI prints beside it (how the image was converted, what was predicted).
    """

    def __init__(self, name: str, figure: Any, notes: Sequence[str] = (), label: str | None = None):
        self.name = name
        self.label = label or name
        self.figure = figure
        self.notes = list(notes)
        self._png: bytes | None = None

    @property
    def png(self) -> bytes:
        if self._png is None:
            self._png = figure_png(self.figure)
        return self._png

    def save(self, path: str | Path) -> Path:
        """Write the figure as a PNG (atomically, at print resolution); return the path."""
        from cnnlab.analysis.visualize import save_figure

        return save_figure(self.figure, path)

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        notes = "".join(f"<div>{escape(note)}</div>" for note in self.notes)
        return f"<div><b>{escape(self.label)}</b>{notes}{png_img(self.png, self.label)}</div>"

    def __repr__(self) -> str:
        return "\n".join([f"<Picture: {self.label}>", *self.notes])


class Gallery(list):
    """Several :class:`Picture` s (a list), shown one after the other."""

    def _repr_html_(self) -> str:
        return "".join(picture._repr_html_() for picture in self)

    def __repr__(self) -> str:
        return "\n".join(repr(picture) for picture in self)

    def save(self, folder: str | Path) -> list[Path]:
        """Write each picture as ``folder/<name>.png``."""
        return [picture.save(Path(folder) / f"{picture.name}.png") for picture in self]
