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
    from cnnlab.analysis import metrics, visualize
    from cnnlab.atomic import atomic_write_json
    from cnnlab.runs import load_trained
    from cnnlab.runs.rundir import locate_run
    from cnnlab.training.metrics import uses_objective

    run = locate_run(run, runs_dir)
    trained = load_trained(run)
    dataset = metrics.load_split(run, trained, split, data_dir=data_dir)
    out = out or _default_output(run, f"eval-{split}")
    if uses_objective(trained.model):
        hardware = metrics.pick_device(device)
        _eval_objective(run, trained, dataset, split, out, hardware, batch_size, json_output)
        return
    evaluation = metrics.evaluate_trained(
        trained, dataset, batch_size=batch_size, device=metrics.pick_device(device), top=top
    )
    title = _eval_title(trained, split, dataset)
    files = visualize.save_evaluation_figures(evaluation, dataset.images, out, title)
    files["report"] = out / "eval.json"
    report = {
        **_eval_header(run, trained, split),
        **evaluation.to_dict(),
        "files": {name: str(path) for name, path in files.items()},
    }
    atomic_write_json(files["report"], report)
    if json_output:
        print_json(report)
        return
    console.print(
        f"[bold]{escape(title)}[/]: accuracy {evaluation.accuracy:.2%} ({evaluation.num_correct} of "
        f"{evaluation.num_images}), loss {evaluation.loss:.4f}",
        soft_wrap=True,
    )
    per_class = [
        {"class": s.name, "precision": s.precision, "recall": s.recall, "f1": s.f1, "images": s.support}
        for s in evaluation.per_class
    ]
    per_class.append({"class": "macro average", **evaluation.macro_average()})
    print_table(per_class, columns=["class", "precision", "recall", "f1", "images"], title="Per class")
    if evaluation.most_confused:
        print_table(
            [
                {"true": c.true, "predicted as": c.predicted, "images": c.count}
                for c in evaluation.most_confused
            ],
            title="Most confused",
        )
    _print_files(files)


def _eval_header(run: Path, trained, split: str) -> dict[str, str | None]:
    """What every eval.json starts with: which run, checkpoint, model, dataset and split."""
    return {
        "run": str(run),
        "checkpoint": str(trained.checkpoint),
        "model": trained.model_name,
        "dataset": trained.dataset,
        "split": split,
    }


def _eval_title(trained, split: str, dataset) -> str:
    return f"{trained.model_name} on {trained.dataset} {split} ({len(dataset)} images)"


def _eval_objective(run: Path, trained, dataset, split: str, out: Path, device, batch_size, as_json: bool):
    """`cnnlab eval` of an autoencoder, VAE or RBM: the mean of each term of its training objective
    on the split (what ``train`` reports as test_loss, test_recon, ...), with the sampling seeded,
    in eval.json; the figures are `cnnlab generate`'s."""
    from cnnlab.analysis.metrics import run_directory
    from cnnlab.atomic import atomic_write_json
    from cnnlab.training.evaluation import eval_loader, evaluate
    from cnnlab.training.progress import format_metric

    model = trained.model.to(device)
    loader = eval_loader(dataset, scale=trained.scale, device=device, batch_size=batch_size)
    terms = evaluate(model, loader, seed=0)
    report = {**_eval_header(run, trained, split), "images": len(dataset), "objective": terms}
    path = out / "eval.json"
    atomic_write_json(path, report)
    if as_json:
        print_json({**report, "files": {"report": str(path)}})
        return
    title = _eval_title(trained, split, dataset)
    shown = ", ".join(format_metric(name, value) for name, value in terms.items())
    console.print(f"[bold]{escape(title)}[/]: {shown} (each term of the training objective, mean per image)")
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
    from cnnlab.analysis import images as image_files
    from cnnlab.analysis import metrics
    from cnnlab.runs import load_trained
    from cnnlab.runs.rundir import locate_run

    run = locate_run(run, runs_dir)
    trained = load_trained(run)
    converted, problems = image_files.read_images(images, trained.input_shape, invert=invert)
    predictions = metrics.predict_images(trained, converted, top_k=top_k, device=metrics.pick_device(device))
    if json_output:
        print_json(
            {
                "run": str(run),
                "predictions": [p.to_dict() for p in predictions],
                "errors": [{"file": str(p.path), "error": p.message} for p in problems],
            }
        )
    else:
        _print_predictions(predictions)
    for problem in problems:
        err_console.print(f"[bold red]Error:[/] {escape(str(problem))}", soft_wrap=True)
    if problems:
        # An error, not typer.Exit: the exit code must be non-zero, and cli.main maps errors to 1.
        raise DataError(
            f"{len(problems)} input(s) could not be used (see above); "
            f"{len(predictions)} image(s) were predicted."
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
    from cnnlab.runs import load_trained
    from cnnlab.runs.rundir import locate_run

    if not (filters or feature_maps or gradcam):
        raise UsageError("Choose what to show: --filters, --feature-maps IMAGE and/or --gradcam IMAGE.")
    if class_name is not None and gradcam is None:
        raise UsageError("--class chooses the class Grad-CAM explains; use it with --gradcam IMAGE.")
    run = locate_run(run, runs_dir)
    trained = load_trained(run)
    out = out or _default_output(run, "visualize")
    written: dict[str, Path] = {}
    if filters:
        written |= _save_filters(trained, layer, out)
    if feature_maps is not None:
        written |= _save_feature_maps(trained, _read_shown_image(trained, feature_maps, invert), layer, out)
    if gradcam is not None:
        image = _read_shown_image(trained, gradcam, invert)
        written |= _save_grad_cam(trained, image, class_name, layer, out)
    _print_files(written)


def _read_shown_image(trained, path: Path, invert: bool):
    """The image converted to the model's input, with what was done to it said aloud."""
    from cnnlab.analysis import images as image_files

    image = image_files.read_image(path, trained.input_shape, invert=invert)
    _print_line(f"{image.path.name}: {image.description}")
    return image


def _save_filters(trained, layer: str | None, out: Path) -> dict[str, Path]:
    """The kernels of ``layer`` (default: the first conv layer) as one PNG."""
    from cnnlab.analysis import visualize

    name = layer or visualize.conv_layers_in_order(trained)[0]
    figure = visualize.filters_figure(name, visualize.resolve_layer(trained.model, name))
    return {f"filters of {name}": visualize.save_figure(figure, out / f"filters-{name}.png")}


def _save_feature_maps(trained, image, layer: str | None, out: Path) -> dict[str, Path]:
    """One PNG a conv layer (or only ``layer``) of its activations for ``image``."""
    from cnnlab.analysis import metrics, visualize

    (prediction,) = metrics.predict_images(trained, [image], top_k=1)
    caption = (
        f"{image.path.name}, predicted '{prediction.classes[0]}' (p = {prediction.probabilities[0]:.3f})"
    )
    maps = visualize.feature_maps(trained, image.pixels, [layer] if layer else None)
    written = {}
    for name, activations in maps.items():
        module = visualize.resolve_layer(trained.model, name)
        figure = visualize.feature_maps_figure(name, activations, image.pixels, caption, module)
        path = out / f"feature-maps-{image.path.stem}-{name}.png"
        written[f"feature maps of {name}"] = visualize.save_figure(figure, path)
    return written


def _save_grad_cam(trained, image, class_name: str | None, layer: str | None, out: Path) -> dict[str, Path]:
    """The Grad-CAM map of ``class_name`` (default: the predicted class) over ``image``, and what it says."""
    from cnnlab.analysis import visualize

    class_index = visualize.resolve_class(trained.classes, class_name) if class_name is not None else None
    result = visualize.grad_cam(trained, image.pixels, class_index=class_index, layer=layer)
    figure = visualize.grad_cam_figure(image.pixels, result, trained.classes, image.path.name)
    path = visualize.save_figure(figure, out / f"gradcam-{image.path.stem}.png")
    _print_line(
        f"Grad-CAM for class '{trained.classes[result.class_index]}' (p = {result.probability:.3f}); "
        f"predicted '{trained.classes[result.predicted]}' (p = {result.predicted_probability:.3f})"
    )
    if not result.has_evidence:
        _print_line(
            f"Nothing at layer {result.layer} speaks for this class; try an earlier one with --layer."
        )
    return {f"Grad-CAM at {result.layer}": path}


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
    from cnnlab.runs import load_trained
    from cnnlab.runs.rundir import locate_run

    if format not in export.FORMATS:
        raise UsageError(f"Unknown export format '{format}'. Choose one of: {', '.join(export.FORMATS)}.")
    run = locate_run(run, runs_dir)
    trained = load_trained(run)
    images, check_data = export.check_images(trained, data_dir=data_dir)
    target = out or _default_output(run, export.FILE_NAMES[format])
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


def _default_output(run: Path, name: str) -> Path:
    """RUN/name for a run directory (or a checkpoint inside one); else beside the checkpoint file."""
    from cnnlab.analysis.metrics import run_directory

    directory = run_directory(run)
    return directory / name if directory is not None else run.parent / f"{run.stem}-{name}"


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
