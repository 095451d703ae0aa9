"""``cnnlab experiment NAME``: run one of the course's experiments; ``cnnlab experiment list``."""

from __future__ import annotations

from pathlib import Path

import typer

from cnnlab.commands.output import console, err_console, print_json, print_table

DATA_DIR_HELP = "Data directory (<dir>/<dataset>/<files>); searched before $CNNLAB_DATA and the user cache."
LIST = "list"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("experiment")(experiment)


def experiment(
    name: str = typer.Argument(..., help="An experiment's name, or `list` to see them with their times."),
    quick: bool = typer.Option(
        False, "--quick", help="The short version: small subsets, few steps, few seeds."
    ),
    seeds: int | None = typer.Option(None, "--seeds", help="Seeds 0..N-1 (default: the experiment's)."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the report (default: RUNS/experiments/NAME-TIME)."
    ),
    runs_dir: Path | None = typer.Option(
        None,
        "--runs-dir",
        help="Runs directory, RUNS above ($CNNLAB_RUNS or ./runs by default); with --out, the "
        "folder of the experiment's training runs.",
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        help="Continue the interrupted experiment in this folder (the same NAME, --quick and --seeds): "
        "finished runs are kept, an interrupted one resumes from its checkpoint.",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (the list, or results.json) instead of tables."
    ),
) -> None:
    """Run a named, versioned experiment of the course; it writes report.md and results.json.

    Examples: cnnlab experiment list; cnnlab experiment fc-vs-cnn --quick;
    cnnlab experiment seed-noise --seeds 10; cnnlab experiment seed-noise --seeds 10 --resume DIR.
    """
    if name == LIST:
        _list(seeds, device, threads, as_json)
        return
    from cnnlab.experiments import run_experiment

    def say(text: str) -> None:
        if not quiet:
            err_console.print(text, highlight=False)

    result = run_experiment(
        name, quick=quick, seeds=seeds, out=out, runs_dir=runs_dir, resume=resume, device=device,
        threads=threads, data_dir=str(data_dir) if data_dir else None, progress=not (quiet or as_json),
        say=say,
    )  # fmt: skip
    if as_json:
        print_json(result.results)
        return
    _print_summary(result)


# The listing's short words for how sure an estimate is (cnnlab.experiments.timing.SURENESS).
SURE_WORDS = {
    "measured here": "measured here",
    "recorded on this CPU kind": "recorded here",
    "scaled from a recording": "scaled",
    "arithmetic only": "arithmetic",
}


def _list(seeds: int | None, device: str, threads: int | None, as_json: bool) -> None:
    """The catalog with estimated times: recorded times and arithmetic, nothing trained or probed
    (and torch not imported: this answers in well under 2 s)."""
    from cnnlab.experiments import estimate, list_experiments
    from cnnlab.experiments.machine import load_average
    from cnnlab.experiments.timing import format_estimate

    rows = []
    for item in list_experiments():
        times = {kind: estimate(item, quick=kind == "quick", seeds=seeds, device=device, threads=threads)
                 for kind in ("full", "quick")}  # fmt: skip
        row = {"name": item.name, "version": item.version, "title": item.title,
               "seeds": f"{seeds or item.full.seeds} / {seeds or item.quick.seeds}"}  # fmt: skip
        for kind, found in times.items():
            row[kind] = format_estimate(found)
            row[f"{kind}_s"], row[f"{kind}_low_s"] = round(found.seconds, 1), round(found.low, 1)
            row[f"{kind}_high_s"], row[f"{kind}_from"] = round(found.high, 1), found.source
            row[f"{kind}_sureness"] = found.sureness
        row["within"] = f"{times['full'].factor:.2g}x" if not times["full"].unknown else "-"
        row["from"] = times["full"].source
        row["how sure"] = SURE_WORDS.get(times["full"].sureness, times["full"].sureness)
        rows.append(row)
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["name", "seeds", "full", "quick", "within", "how sure"], title="Experiments")
    load = load_average()
    busy = f" The load average is {load:.1f} now: other work slows them." if load and load > 1 else ""
    console.print(
        "Estimated times (seeds: full / --quick), good to the factor 'within' either way. How sure: "
        "measured here (a training run on this machine), recorded here (a recorded run on this CPU "
        "kind, precision and threads), scaled (a recording scaled to this CPU, precision or "
        "threads), arithmetic (multiply-adds at a recorded network's rate). `--json` says which per "
        "cell; nothing is trained or probed."
        f"{busy} Run one: cnnlab experiment NAME [--quick] [--seeds N]."
    )


def _print_summary(result) -> None:
    from cnnlab.experiments.runner import SUMMARY_COLUMNS

    rows = [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in result.summary_rows()]
    print_table(rows, title=result.title)
    console.print(f"Report: {result.report_path}\nNumbers: {result.results_path}")
