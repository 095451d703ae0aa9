"""``cnnlab models`` (the model zoo as a table) and ``cnnlab explain`` (every layer's arithmetic).

Thin shells over :mod:`cnnlab.models`, :mod:`cnnlab.analysis.summary` and
:mod:`cnnlab.analysis.model_table`; torch is imported inside the command bodies.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import typer

from cnnlab.commands.output import console, print_json
from cnnlab.errors import ModelError, UsageError

FORMATS = ("table", "json", "markdown")
# Wide tables are cut to the terminal's width by rich; when the output is a pipe or a file, give
# them room instead, so that no row is wrapped.
PIPE_WIDTH = 250


def register(app: typer.Typer) -> None:
    """Add ``models`` and ``explain`` to the root app."""
    app.command("models")(models_command)
    app.command("explain")(explain_command)


def models_command(
    family: str | None = typer.Option(None, "--family", help="Only this family (e.g. resnet, vgg)."),
    task: str | None = typer.Option(None, "--task", help="Only this task: classify, autoencoder or rbm."),
    output_format: str = typer.Option("table", "--format", help="table, json or markdown."),
) -> None:
    """List the model zoo: family, paper, and params / MACs at 1x28x28, 3x32x32 and the paper's size."""
    from cnnlab.analysis.model_table import DATASET_INPUTS, model_rows, shipped_rows
    from cnnlab.formatting import fit_columns, format_shape, markdown_table

    _check_format(output_format)
    # The shipped table needs no torch (cnnlab.data imports it); computed rows are kept in the user cache.
    rows = model_rows(family, task, cache_file=None if shipped_rows() is not None else _costs_cache())
    if output_format == "json":
        print_json(rows)
        return
    labels = [format_shape(shape) for shape in DATASET_INPUTS] + ["paper"]
    shown = [_model_cells(row, labels) for row in rows]
    if output_format == "markdown":
        table = [[cells[c] for c in ZOO_COLUMNS] for cells in shown]
        print(markdown_table(ZOO_COLUMNS, table, compact=True), end="")
        return
    wrapped = {WRAPPED: WRAPPED_MIN_WIDTH}
    columns = fit_columns(shown, ZOO_COLUMNS, DROP_ORDER, _table_room(), wrapped, _header)
    hidden = [c for c in ZOO_COLUMNS if c not in columns]
    _print_wide(_zoo_table(shown, columns, hidden))


def _costs_cache() -> Path:
    from cnnlab.data.paths import user_cache_dir

    return user_cache_dir() / "model_costs.json"


# The table's columns in their order on a wide terminal, and the groups dropped one by one (first
# the first) until the table fits a narrower one. Names are never cut; the paper's title wraps.
ZOO_COLUMNS = [
    "name", "family", "paper", "year", "params 1x28x28", "MACs 1x28x28", "params 3x32x32",
    "MACs 3x32x32", "paper input", "params paper", "MACs paper",
]  # fmt: skip
DROP_ORDER = (
    ("year",),
    ("paper",),
    ("paper input", "params paper", "MACs paper"),
    ("params 1x28x28", "MACs 1x28x28"),
    ("family",),
)
WRAPPED = "paper"
WRAPPED_MIN_WIDTH = 24


def _header(column: str) -> str:
    """``params 3x32x32`` on two lines: the numbers' columns stay as narrow as their numbers."""
    return column.replace(" ", "\n", 1) if column.startswith(("params", "MACs")) else column


def _zoo_table(shown: list[dict[str, str]], columns: list[str], hidden: list[str]):
    from rich.table import Table

    from cnnlab.formatting import hidden_columns_note

    note = hidden_columns_note(hidden) if hidden else None
    table = Table(
        title="cnnlab models: params and MACs of one image at each input ('-': refused)",
        caption=note,
    )
    for column in columns:
        numeric = column.startswith(("params", "MACs"))
        table.add_column(
            _header(column),
            justify="right" if numeric else "left",
            no_wrap=column != WRAPPED,
            min_width=WRAPPED_MIN_WIDTH if column == WRAPPED else None,
        )
    for cells in shown:
        table.add_row(*(cells[c] for c in columns))
    return table


def _model_cells(row: dict, labels: list[str]) -> dict[str, str]:
    from cnnlab.formatting import format_short_count

    cells = {key: "-" if row[key] is None else str(row[key]) for key in ("name", "family", "paper", "year")}
    cells["paper input"] = row["paper_input"]
    for label in labels:
        for key, title in (("params", "params"), ("macs", "MACs")):
            value = row[f"{key}_{label}"]
            cells[f"{title} {label}"] = "-" if value is None else format_short_count(value)
    return cells


def explain_command(
    model: str | None = typer.Argument(
        None, help="A registry model (see `cnnlab models`) or FILE.py:NAME, an nn.Module of your own."
    ),
    input_shape: str | None = typer.Option(
        None, "--input", "-i", help="Input as CxHxW, e.g. 3x32x32 (default: the model's usual input)."
    ),
    classes: int | None = typer.Option(
        None,
        "--classes",
        min=1,
        help="Number of classes (default: 1000 at the paper's ImageNet size, else 10).",
    ),
    depth: int | None = typer.Option(None, "--depth", min=1, help="Fold modules nested deeper than this."),
    model_arg: list[str] | None = typer.Option(
        None,
        "--model-arg",
        help="Option of the named model KEY=VALUE (repeatable), as in `cnnlab train`, e.g. stem=patch.",
    ),
    compare: str | None = typer.Option(
        None,
        "--compare",
        help="Comma-separated registry models to compare side by side, e.g. vgg16,resnet18.",
    ),
    output_format: str = typer.Option("table", "--format", help="table, json or markdown."),
) -> None:
    """Show what every layer does to the tensor: shape, size formula, params, MACs, receptive field."""
    from cnnlab.commands.train import parse_model_args

    _check_format(output_format)
    shape = parse_input_shape(input_shape) if input_shape else None
    options = parse_model_args(model_arg or [])
    if options and (model is None or ":" in model):
        raise UsageError("--model-arg sets options of the named registry model: name one, e.g. speedrun.")
    if compare:
        comparison = _comparison(model, compare.split(","), shape, classes, options)
        _emit(output_format, comparison.to_dict, comparison.to_markdown, comparison.to_table)
        return
    summary = _summary(model, shape, classes, options)
    _emit(
        output_format,
        lambda: summary.to_dict(depth),
        lambda: summary.to_markdown(depth),
        lambda: summary.to_table(depth, width=_table_room()),
    )


def _comparison(model: str | None, others: list[str], shape, classes: int | None, options: dict):
    """``model`` (with its options), then each of ``others``, side by side."""
    from cnnlab.analysis.summary import Comparison, explain

    compared = [explain(name.strip(), shape, classes) for name in others if name.strip()]
    return Comparison(([explain(model, shape, classes, **options)] if model else []) + compared)


def _summary(model: str | None, shape, classes: int | None, options: dict):
    """The summary of a registry model, or of a user's ``FILE.py:NAME`` (which needs ``--input``)."""
    from cnnlab.analysis.summary import explain, summarize_model

    if model is None:
        raise UsageError("Name a model to explain (see `cnnlab models`), or use --compare a,b,c.")
    if ":" in model and model.split(":")[0].endswith(".py"):
        if shape is None:
            raise UsageError("Give the input shape of your model with --input CxHxW, e.g. --input 3x32x32.")
        return summarize_model(load_user_model(model), shape, name=model)
    return explain(model, shape, classes, **options)


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``"3x32x32"`` -> ``(3, 32, 32)``; see :func:`cnnlab.analysis.summary.parse_input_shape`."""
    from cnnlab.analysis.summary import parse_input_shape as parse

    return parse(text)


def load_user_model(spec: str):
    """``path/to/file.py:Name`` -> an ``nn.Module``: ``Name`` may be a module instance, a class
    or a function taking no arguments. Whatever goes wrong (the file raises on import, the class
    needs arguments, the name is something else) is one line naming the file and the cause."""
    from torch import nn

    file_name, _, attribute = spec.rpartition(":")
    path = Path(file_name)
    if not path.is_file():
        raise UsageError(f"No Python file at {path} (expected FILE.py:NAME).")
    source = _import_user_file(path)
    if not hasattr(source, attribute):
        modules = sorted(
            name
            for name, value in vars(source).items()
            if isinstance(value, type)
            and issubclass(value, nn.Module)
            and value.__module__ == source.__name__
        )
        defined = f" Its nn.Module classes: {', '.join(modules)}." if modules else ""
        raise UsageError(f"{path} defines no '{attribute}'.{defined}")
    value = getattr(source, attribute)
    if isinstance(value, nn.Module):
        return value
    if not callable(value):
        raise UsageError(
            f"{spec} is a {type(value).__name__}, not an nn.Module, nor a class or function that returns one."
        )
    try:
        inspect.signature(value).bind()
    except TypeError as exc:
        raise UsageError(
            f"{spec} cannot be built without arguments ({exc}). Give its arguments defaults, or "
            f"name a function in {path} that builds it and takes none."
        ) from exc
    except ValueError:
        pass  # no signature to read (a builtin): calling it will tell
    try:
        model = value()
    except Exception as exc:  # noqa: BLE001  (the user's own code: any error is theirs to see)
        raise ModelError(f"Building {spec} raised {_user_code_error(exc, path)}.") from exc
    if not isinstance(model, nn.Module):
        raise UsageError(
            f"{spec} returned a {type(model).__name__}, not an nn.Module: name a module instance, "
            "or a class or function that returns one."
        )
    return model


def _import_user_file(path: Path):
    """Run the user's file as a module; an error in it is a one-line :class:`ModelError`."""
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    if module_spec is None or module_spec.loader is None:
        raise UsageError(f"{path} is not a Python file that can be imported (expected FILE.py:NAME).")
    source = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(source)
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise ModelError(f"Importing {path} raised {_user_code_error(exc, path)}.") from exc
    return source


def _user_code_error(exc: BaseException, path: Path) -> str:
    """``NameError: name 'x' is not defined (my_net.py, line 7)``: the error and the line of the
    user's file it came from."""
    import traceback

    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    if line is None:
        mine = path.resolve()
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == mine]
        line = frames[-1].lineno if frames else None
    where = f" ({path.name}, line {line})" if line else ""
    message = str(exc.msg if isinstance(exc, SyntaxError) else exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ") + where


def _emit(output_format: str, as_dict, as_markdown, as_table) -> None:
    if output_format == "json":
        print_json(as_dict())
    elif output_format == "markdown":
        print(as_markdown(), end="")
    else:
        _print_wide(as_table())


def _table_room() -> int:
    """The characters a table's row may take: the terminal's width, or a pipe's room."""
    return console.width if console.is_terminal else PIPE_WIDTH


def _print_wide(table) -> None:
    from rich.console import Console

    if console.is_terminal:
        console.print(table)
    else:  # the shared console is 80 columns wide off a terminal; a pipe gets the whole row
        Console(width=PIPE_WIDTH, highlight=False).print(table)


def _check_format(output_format: str) -> None:
    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{output_format}'.")
