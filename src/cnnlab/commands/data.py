"""``cnnlab data``: list, download, verify and look at datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.commands.output import console, print_json, print_table

SAMPLES_FOLDER = "samples"  # `data show` writes its grids here, inside the runs directory
DATA_DIR_HELP = "Data directory (<dir>/<dataset>/<files>); searched before $CNNLAB_DATA and the user cache."

data_app = typer.Typer(
    help="Datasets: list what is where, download, verify checksums, show samples.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(data_app, name="data")


@data_app.command("list")
def list_datasets(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the known datasets: size, classes, where they are and whether they verified."""
    from dataclasses import asdict

    from cnnlab.data.catalog import dataset_statuses

    statuses = dataset_statuses(data_dir)
    if as_json:
        print_json([asdict(status) for status in statuses])
        return
    from rich.table import Table

    # A table of its own (not print_table) so that long paths wrap instead of being cut off.
    table = Table(title="Datasets")
    for column in ("name", "images", "classes", "where", "found via", "verified"):
        table.add_column(column, overflow="fold", no_wrap=column != "where")
    for s in statuses:
        table.add_row(s.name, f"{s.images:,}", str(s.classes), s.where, s.origin, s.verified)
    console.print(table)
    console.print("Image folders work too: pass <folder>/<class>/*.png|jpg wherever a dataset name goes.")


@data_app.command("download")
def download_dataset(
    name: str = typer.Argument(..., help="mnist, fashion-mnist, cifar10 or cifar100."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP + " Downloads go here."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Download a dataset from its official source (unless it is already here) and verify it."""
    from cnnlab.data.catalog import download

    report, downloaded = download(name, data_dir, progress=progress)
    _print_report(report)
    if report.ok:
        what = "Downloaded" if downloaded else "Already here:"
        console.print(f"{what} {report.spec.name} in {report.location.folder} ({report.verification}).")


@data_app.command("verify")
def verify_dataset(
    name: str = typer.Argument(..., help="mnist, fashion-mnist, cifar10 or cifar100."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Re-hash every file of a dataset; compare with the official checksums or its SHA256SUMS."""
    from cnnlab.data.catalog import verify_dataset as verify

    report = verify(name, data_dir)
    _print_report(report)
    if report.ok:
        console.print(f"{report.spec.name}: all {len(report.checks)} files match ({report.verification}).")


def _print_report(report) -> None:
    from cnnlab.errors import DataError

    rows = [
        {
            "file": check.relative,
            "checked against": f"{check.expected.source} {check.expected.algorithm}",
            "result": "ok" if check.ok else f"MISMATCH: expected {check.expected.digest}, got {check.actual}",
        }
        for check in report.checks
    ]
    print_table(rows, title=f"{report.spec.name} in {report.location.folder} ({report.location.origin})")
    failed = [check for check in report.checks if not check.ok]
    if failed:
        raise DataError(
            f"{len(failed)} of {len(report.checks)} files of {report.spec.name} in {report.location.folder} "
            f"do not match ({', '.join(c.relative for c in failed)}). Delete them and run "
            f"`cnnlab data download {report.spec.name}`, or restore the original files."
        )


@data_app.command("show")
def show_dataset(
    name: str = typer.Argument(..., help="A dataset name or an image folder."),
    split: str = typer.Option("train", "--split", help="train or test (an image folder: its splits)."),
    out: Path | None = typer.Option(
        None, "--out", help=f"PNG to write (default: <runs dir>/{SAMPLES_FOLDER}/<name>-<split>.png)."
    ),
    count: int = typer.Option(32, "--count", help="How many images to show."),
    seed: int = typer.Option(0, "--seed", help="Which random images to show."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    skip_bad_images: bool = typer.Option(
        False, "--skip-bad-images", help="Image folders: skip unreadable images."
    ),
) -> None:
    """Write a PNG grid of sample images with their class names."""
    from cnnlab.data import load_dataset
    from cnnlab.data.preview import save_sample_grid
    from cnnlab.runs.rundir import default_runs_dir

    dataset = load_dataset(name, split, data_dir=data_dir, skip_bad_images=skip_bad_images)
    out = out or default_runs_dir() / SAMPLES_FOLDER / f"{dataset.name}-{split}.png"
    save_sample_grid(dataset, out, count=count, seed=seed)
    console.print(
        f"Wrote {out}: {min(count, len(dataset))} of {len(dataset)} {dataset.name} {split} images "
        f"({dataset.verification}, from {dataset.location}).",
        soft_wrap=True,
    )
