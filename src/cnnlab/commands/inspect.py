"""Looking inside a trained CNN: ``cnnlab eval``, ``predict``, ``visualize`` and ``export``.

Each takes RUN: a run's name or directory (its best checkpoint, else the last) or a checkpoint
file, resolved by :func:`cnnlab.runs.rundir.locate_run` as ``cnnlab runs show`` resolves it.
What they write goes beside the run unless ``--out`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from cnnlab.commands.output import console, err_console, print_json, print_table
from cnnlab.errors import DataError, UsageError

RUN_HELP = "A run: its name (see `cnnlab runs list`), its directory, or a checkpoint file."
RUN_ARGUMENT = typer.Argument(..., help=RUN_HELP)
RUNS_DIR_OPTION = typer.Option(
    None, "--runs-dir", help="Where a RUN given by name is looked for (default: $CNNLAB_RUNS or ./runs)."
)
DEVICE_OPTION = typer.Option("auto", "--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, ...")
DATA_DIR_OPTION = typer.Option(
    None, "--data-dir", help="Where the datasets are (default: $CNNLAB_DATA, cache)."
)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("eval")(eval_command)
    app.command("predict")(predict_command)
    app.command("visualize")(visualize_command)
    app.command("export")(export_command)


def eval_command(
    run: Path = RUN_ARGUMENT,
    runs_dir: Path | None = RUNS_DIR_OPTION,
    split: str = typer.Option("test", "--split", help="test, or val (the run's held-out validation split)."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for eval.json and the PNGs (default RUN/eval-SPLIT)."
    ),
    top: int = typer.Option(16, "--top", help="How many of the most confidently wrong images to show."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Images per forward pass (default: 512 at 32x32, fewer for larger images)."
    ),
    device: str = DEVICE_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Accuracy, per-class precision/recall/F1, confusion matrix and the worst mistakes on a split."""
    from cnnlab.analysis.reports import PER_CLASS_COLUMNS, ObjectiveReport, evaluate_run
    from cnnlab.runs.rundir import locate_run

    run = locate_run(run, runs_dir)
    report = evaluate_run(
        run, split, out=out, top=top, batch_size=batch_size, device=device, data_dir=data_dir
    )
    if isinstance(report, ObjectiveReport):
        _print_objective(run, report, json_output)
        return
    if json_output:
        print_json(report.to_dict())
        return
    _print_headline(report)
    per_class = [dict(zip(PER_CLASS_COLUMNS, row, strict=True)) for row in report.per_class_rows()]
    print_table(per_class, columns=PER_CLASS_COLUMNS, title="Per class")
    if report.evaluation.most_confused:
        print_table(
            [
                {"true": c.true, "predicted as": c.predicted, "images": c.count}
                for c in report.evaluation.most_confused
            ],
            title="Most confused",
        )
    _print_files(report.files)


def _print_headline(report) -> None:
    """The report's headline, its title in bold."""
    rest = report.headline().removeprefix(report.title)
    console.print(f"[bold]{escape(report.title)}[/]{escape(rest)}", soft_wrap=True)


def _print_objective(run: Path, report, as_json: bool) -> None:
    """`cnnlab eval` of an autoencoder, VAE or RBM: each term of its objective; the figures are
    `cnnlab generate`'s."""
    from cnnlab.analysis.metrics import run_directory

    path = report.files["report"]
    if as_json:
        print_json({**report.to_dict(), "files": {"report": str(path)}})
        return
    _print_headline(report)
    target = run_directory(run) or run
    _print_line(f"Wrote {path}. Figures (reconstructions, samples): cnnlab generate {target}")


def predict_command(
    run: Path = RUN_ARGUMENT,
    runs_dir: Path | None = RUNS_DIR_OPTION,
    images: list[Path] = typer.Argument(
        ..., help="Image files (PNG, JPEG, BMP, GIF, ...) or folders of them."
    ),
    top_k: int = typer.Option(3, "--top-k", help="How many classes to show per image."),
    invert: bool = typer.Option(False, "--invert", help="Invert the pixels first (dark-on-light drawings)."),
    device: str = DEVICE_OPTION,
    json_output: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Classify image files; each is converted to the model's input, and the output says how."""
    from cnnlab.analysis.reports import predict_files
    from cnnlab.runs.rundir import locate_run

    run = locate_run(run, runs_dir)
    result = predict_files(run, images, top_k=top_k, invert=invert, device=device)
    if json_output:
        print_json(result.to_dict())
    else:
        _print_predictions(result.predictions)
    for problem in result.problems:
        err_console.print(f"[bold red]Error:[/] {escape(str(problem))}", soft_wrap=True)
    if result.problems:
        # An error, not typer.Exit: the exit code must be non-zero, and cli.main maps errors to 1.
        raise DataError(
            f"{len(result.problems)} input(s) could not be used (see above); "
            f"{len(result)} image(s) were predicted."
        )


def visualize_command(
    run: Path = RUN_ARGUMENT,
    runs_dir: Path | None = RUNS_DIR_OPTION,
    filters: bool = typer.Option(
        False, "--filters", help="Show the kernels of the first conv layer (or --layer)."
    ),
    feature_maps: Path | None = typer.Option(
        None, "--feature-maps", help="Show every conv layer's activations (or --layer's) for this image."
    ),
    gradcam: Path | None = typer.Option(None, "--gradcam", help="Show a Grad-CAM heat map over this image."),
    layer: str | None = typer.Option(
        None, "--layer", help="A conv layer by name (default: see each option)."
    ),
    class_name: str | None = typer.Option(
        None, "--class", help="Grad-CAM: the class to explain, by name or index (default: the predicted one)."
    ),
    invert: bool = typer.Option(False, "--invert", help="Invert the image's pixels first."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the PNGs (default RUN/visualize)."),
) -> None:
    """Filters, feature maps and Grad-CAM of a trained model, as PNGs sized for reading."""
    from cnnlab import visualize
    from cnnlab.analysis.reports import default_output
    from cnnlab.runs import load_trained
    from cnnlab.runs.rundir import locate_run

    if not (filters or feature_maps or gradcam):
        raise UsageError("Choose what to show: --filters, --feature-maps IMAGE and/or --gradcam IMAGE.")
    if class_name is not None and gradcam is None:
        raise UsageError("--class chooses the class Grad-CAM explains; use it with --gradcam IMAGE.")
    run = locate_run(run, runs_dir)
    trained = load_trained(run)
    out = out or default_output(run, "visualize")
    pictures = [visualize.filters(trained, layer)] if filters else []
    if feature_maps is not None:
        pictures += visualize.feature_maps(trained, feature_maps, layer, invert=invert)
    if gradcam is not None:
        pictures.append(visualize.gradcam(trained, gradcam, class_name, layer, invert=invert))
    said: set[str] = set()  # each feature-map picture repeats how its image was converted
    for note in (note for picture in pictures for note in picture.notes):
        if note not in said:
            said.add(note)
            _print_line(note)
    _print_files({picture.label: picture.save(out / f"{picture.name}.png") for picture in pictures})


def export_command(
    run: Path = RUN_ARGUMENT,
    runs_dir: Path | None = RUNS_DIR_OPTION,
    format: str = typer.Option(..., "--format", help="onnx or torchscript."),
    out: Path | None = typer.Option(None, "--out", help="The file to write (default RUN/model.onnx, ...)."),
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Export to ONNX or TorchScript with class names and normalisation in the file's metadata;
    the export is checked against PyTorch on real test images before it is kept."""
    from cnnlab.analysis import export
    from cnnlab.analysis.reports import default_output
    from cnnlab.runs import load_trained
    from cnnlab.runs.rundir import locate_run

    if format not in export.FORMATS:
        raise UsageError(f"Unknown export format '{format}'. Choose one of: {', '.join(export.FORMATS)}.")
    run = locate_run(run, runs_dir)
    trained = load_trained(run)
    images, check_data = export.check_images(trained, data_dir=data_dir)
    target = out or default_output(run, export.FILE_NAMES[format])
    report = export.export_model(trained, target, format, images=images, check_data=check_data)
    if json_output:
        print_json(report.to_dict())
        return
    size_kb = report.path.stat().st_size / 1024
    _print_line(f"Wrote {report.path} ({size_kb:,.0f} KB, {report.format}, by {report.exporter}).")
    _print_line(
        f"Checked against PyTorch on {report.check_data}: largest |difference| of the logits "
        f"{report.max_abs_difference:.2e} (< {export.TOLERANCE:g})."
    )
    _print_line(f"Metadata: {', '.join(report.metadata)}; input: {report.metadata['preprocessing']}.")


def _print_predictions(predictions: list) -> None:
    for prediction in predictions:
        ranked = "  ".join(
            f"{name} {probability:.3f}"
            for name, probability in zip(prediction.classes, prediction.probabilities, strict=True)
        )
        console.print(f"[bold]{escape(str(prediction.image.path))}[/]: {escape(ranked)}", soft_wrap=True)
        console.print(f"  [dim]{escape(prediction.image.description)}[/]", soft_wrap=True)
        if prediction.hint:
            console.print(f"  [yellow]hint:[/] {escape(prediction.hint)}", soft_wrap=True)


def _print_files(files: dict[str, Path]) -> None:
    for what, path in files.items():
        _print_line(f"{what.replace('_', ' ')}: {path}")


def _print_line(text: str) -> None:
    """Plain text on stdout, never wrapped (paths must stay whole for copy and paste)."""
    console.print(escape(text), soft_wrap=True)
