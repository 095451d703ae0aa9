"""``cnnlab models`` (the model zoo as a table) and ``cnnlab explain`` (every layer's arithmetic).

Thin shells over :mod:`cnnlab.models`, :mod:`cnnlab.analysis.summary` and
:mod:`cnnlab.analysis.model_table`; torch is imported inside the command bodies.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from cnnlab.commands.output import console, print_json
from cnnlab.errors import UsageError

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
    from rich.table import Table

    from cnnlab.analysis.model_table import DATASET_INPUTS, model_rows
    from cnnlab.analysis.summary import format_count, markdown_table, shape_text
    from cnnlab.data.paths import user_cache_dir

    _check_format(output_format)
    rows = model_rows(family, task, cache_file=user_cache_dir() / "model_costs.json")
    if output_format == "json":
        print_json(rows)
        return
    labels = [shape_text(shape) for shape in DATASET_INPUTS] + ["paper"]
    columns = ["name", "family", "paper", "year"]
    for label in labels:
        columns += [f"params {label}", f"MACs {label}"]
    columns.insert(-2, "paper input")
    shown = [_model_cells(row, labels, format_count) for row in rows]
    if output_format == "markdown":
        print(markdown_table(columns, [[cells[c] for c in columns] for cells in shown]), end="")
        return
    table = Table(title="cnnlab models: parameters and MACs (one image) at each input; '-': input refused")
    for column in columns:
        numeric = column.startswith(("params", "MACs"))
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    for cells in shown:
        table.add_row(*(cells[c] for c in columns))
    _print_wide(table)


def _model_cells(row: dict, labels: list[str], format_count) -> dict[str, str]:
    cells = {key: "-" if row[key] is None else str(row[key]) for key in ("name", "family", "paper", "year")}
    cells["paper input"] = row["paper_input"]
    for label in labels:
        for key, title in (("params", "params"), ("macs", "MACs")):
            value = row[f"{key}_{label}"]
            cells[f"{title} {label}"] = "-" if value is None else format_count(value)
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
    from cnnlab.analysis.summary import Comparison, explain, parse_input_shape, summarize
    from cnnlab.commands.train import parse_model_args

    _check_format(output_format)
    shape = parse_input_shape(input_shape) if input_shape else None
    options = parse_model_args(model_arg or [])
    if options and (model is None or ":" in model):
        raise UsageError("--model-arg sets options of the named registry model: name one, e.g. speedrun.")
    if compare:
        others = [explain(name.strip(), shape, classes) for name in compare.split(",") if name.strip()]
        comparison = Comparison(([explain(model, shape, classes, **options)] if model else []) + others)
        _emit(output_format, comparison.to_dict, comparison.to_markdown, comparison.to_table)
        return
    if model is None:
        raise UsageError("Name a model to explain (see `cnnlab models`), or use --compare a,b,c.")
    if ":" in model and model.split(":")[0].endswith(".py"):
        if shape is None:
            raise UsageError("Give the input shape of your model with --input CxHxW, e.g. --input 3x32x32.")
        summary = summarize(load_user_model(model), shape, name=model)
    else:
        summary = explain(model, shape, classes, **options)
    _emit(
        output_format,
        lambda: summary.to_dict(depth),
        lambda: summary.to_markdown(depth),
        lambda: summary.to_table(depth),
    )


def load_user_model(spec: str):
    """``path/to/file.py:Name`` -> an ``nn.Module``: ``Name`` may be a module instance, a class
    or a function taking no arguments."""
    from torch import nn

    file_name, _, attribute = spec.rpartition(":")
    path = Path(file_name)
    if not path.is_file():
        raise UsageError(f"No Python file at {path} (expected FILE.py:NAME).")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    source = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(source)
    if not hasattr(source, attribute):
        raise UsageError(f"{path} defines no '{attribute}'.")
    value = getattr(source, attribute)
    model = value if isinstance(value, nn.Module) else value()
    if not isinstance(model, nn.Module):
        raise UsageError(f"{spec} is not an nn.Module, nor a class or function that returns one.")
    return model


def _emit(output_format: str, as_dict, as_markdown, as_table) -> None:
    if output_format == "json":
        print_json(as_dict())
    elif output_format == "markdown":
        print(as_markdown(), end="")
    else:
        _print_wide(as_table())


def _print_wide(table) -> None:
    from rich.console import Console

    if console.is_terminal:
        console.print(table)
    else:  # the shared console is 80 columns wide off a terminal; a pipe gets the whole row
        Console(width=PIPE_WIDTH, highlight=False).print(table)


def _check_format(output_format: str) -> None:
    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{output_format}'.")
