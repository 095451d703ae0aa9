"""``cnnlab generate`` (figures of a trained autoencoder, VAE or RBM) and ``cnnlab lowrank`` (SVD)."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.commands.output import console, print_json, print_table
from cnnlab.formatting import format_shape

DATA_DIR_HELP = "Data directory (<dir>/<dataset>/<files>); searched before $CNNLAB_DATA and the user cache."


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("generate")(generate)
    app.command("lowrank")(lowrank)


def generate(
    run: Path = typer.Argument(
        ..., help="A run: its name (as in `cnnlab runs list`), its directory, or a checkpoint file."
    ),
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="Where a RUN given by name is looked for (default: $CNNLAB_RUNS or ./runs)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Folder for the PNGs (default: RUN/generated)."),
    count: int = typer.Option(
        10, "--count", help="Images a row (one test image a class; VAE: count x count samples)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise, the samples and the Gibbs chains."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Figures of a trained autoencoder, VAE or RBM: reconstructions, samples, latent map,
    interpolation, learned features."""
    from cnnlab.analysis.generative import generate as make_figures
    from cnnlab.runs.rundir import locate_run

    result = make_figures(locate_run(run, runs_dir), out, data_dir=data_dir, count=count, seed=seed)
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        {"figure": name, "file": str(path), "what": result.notes[name]} for name, path in result.files.items()
    ]
    print_table(rows, title=f"{result.model}: figures in {result.out_dir}")


def lowrank(
    target: str = typer.Argument(
        ..., help="An image file, a dataset name (mnist, cifar10, ...) or an image folder."
    ),
    ranks: str = typer.Option("1,5,20,50", "--ranks", help="Ranks to approximate at, comma-separated."),
    out: Path | None = typer.Option(
        None, "--out", help="Also write the figure (lowrank-<name>.png) to this folder."
    ),
    split: str = typer.Option("test", "--split", help="Dataset split."),
    limit: int = typer.Option(
        2000, "--limit", help="Dataset images in the matrix (the first N of the split)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the shuffled and noise controls."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """SVD low-rank approximations of an image or a dataset, against shuffled and noise controls."""
    from cnnlab.analysis.lowrank import low_rank, lowrank_figure

    report = low_rank(target, ranks, split=split, limit=limit, data_dir=data_dir, seed=seed)
    figure_path = None
    if out is not None:
        from cnnlab.analysis.visualize import save_figure

        stem = Path(target).stem if report.kind == "image" else Path(str(target)).name
        figure_path = save_figure(lowrank_figure(report), out / f"lowrank-{stem}.png")
    if as_json:
        print_json({**report.to_dict(), "figure": str(figure_path) if figure_path else None})
        return
    _print_report(report)
    if figure_path:
        console.print(f"Figure: {figure_path}")


def _print_report(report) -> None:
    controls = [spectrum.label for spectrum in report.spectra[1:]]
    rows = [
        {
            "rank": row.rank,
            "compression": f"{row.compression_ratio:.1f}x",
            "error": f"{row.relative_error:.1%}",
            **{f"{label} error": f"{row.control_errors[label]:.1%}" for label in controls},
        }
        for row in report.rows
    ]
    shape = format_shape(report.matrix_shape[1:])
    matrices = (
        f"{report.matrix_shape[0]} channel(s) of {shape}" if report.kind == "image" else f"{shape} matrix"
    )
    print_table(rows, title=f"{report.source}: {matrices}, centred; relative Frobenius error per rank")
    energy = [{"matrix": label, **needed} for label, needed in report.energy_ranks().items()]
    print_table(energy, title="Rank needed for this share of the variance")
    for note in report.notes:
        console.print(f"Image: {note}")
    if report.kind == "dataset":
        console.print(
            "shuffled: each image's pixels permuted on their own; same shuffle: one permutation for "
            "all images (only reorders columns, so the spectrum is unchanged); noise: Gaussian, same "
            "mean and std."
        )
    else:
        console.print("shuffled: the image's pixels permuted at random; noise: Gaussian, same mean and std.")
