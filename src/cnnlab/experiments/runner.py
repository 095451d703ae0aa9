"""``run_experiment``: estimate, run an experiment in its own directory, and write ``report.md`` and
``results.json`` (atomically; also when the experiment fails or is interrupted, with that status).

The directory is ``--out``, else ``<runs dir>/experiments/<name>-<timestamp>/`` (runs dir:
``--runs-dir``, ``$CNNLAB_RUNS`` or ``./runs``). It holds the report, its PNGs, ``results.json``
and the training runs of every cell and seed under ``runs/``.

``resume=DIR`` continues an interrupted (Ctrl-C, crash, kill) experiment in its own folder: the same
experiment, version, size and seeds (checked against ``DIR/results.json``); runs that finished are
read back as they are, an interrupted run resumes from its last checkpoint, the rest are trained;
the report is then written as for an uninterrupted experiment, with the same numbers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_json, atomic_write_text
from cnnlab.errors import ConfigError, UsageError
from cnnlab.experiments.context import Context
from cnnlab.experiments.machine import describe_machine
from cnnlab.experiments.registry import Experiment, get_experiment
from cnnlab.experiments.sections import compose_report
from cnnlab.experiments.timing import Estimate, Measure, estimate
from cnnlab.formatting import format_duration
from cnnlab.runs.rundir import RunDir, default_runs_dir
from cnnlab.training import TrainingInterrupted

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
SUMMARY_COLUMNS = ["cell", "metric", "mean ± std", "seeds"]


@dataclass
class ExperimentResult:
    experiment: Experiment
    dir: Path
    results: dict[str, Any]

    @property
    def report_path(self) -> Path:
        return self.dir / REPORT_FILE

    @property
    def results_path(self) -> Path:
        return self.dir / RESULTS_FILE

    def summary_rows(self) -> list[list[Any]]:
        """cell, metric, mean ± std, seeds: one row a cell of the experiment."""
        from cnnlab.experiments.report import format_summary
        from cnnlab.runs.stats import summarize

        rows = []
        for label, cell in self.results["cells"].items():
            metric = "test_accuracy" if "test_accuracy" in cell["per_seed"] else "test_loss"
            summary = summarize(cell["per_seed"][metric])
            rows.append([label, metric, format_summary(summary, metric), len(cell["seeds"])])
        return rows

    @property
    def title(self) -> str:
        return f"{self.experiment.name}: {self.results['status']}"

    def _repr_html_(self) -> str:
        """In a notebook: the question, the table of cells and the report's figures."""
        from cnnlab.display import escape, file_img, html_table

        question = self.results.get("question") or ""
        table = html_table(SUMMARY_COLUMNS, self.summary_rows(), title=self.title, right=SUMMARY_COLUMNS[2:])
        figures = "".join(file_img(path) for path in sorted(self.dir.glob("*.png")))
        where = f"<div><small>Report: {escape(self.report_path)}</small></div>"
        return f"<div><i>{escape(question)}</i></div>{table}{where}{figures}"

    def __repr__(self) -> str:
        from cnnlab.display import text_table

        table = text_table(SUMMARY_COLUMNS, self.summary_rows(), title=self.title)
        return f"{table}\nReport: {self.report_path}"


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    seeds: int | None = None,
    out: str | Path | None = None,
    runs_dir: str | Path | None = None,
    resume: str | Path | None = None,
    data_dir: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    say: Callable[[str], None] = lambda text: None,
    measure: Measure | None = None,
) -> ExperimentResult:
    """Run experiment ``name`` (``quick``: its short version) over ``seeds`` seeds (default: its own);
    ``resume``: the folder of the same experiment, interrupted, to continue (see the module docstring)."""
    experiment = get_experiment(name)
    seed_count = experiment.size(quick).seeds if seeds is None else seeds
    if seed_count < 1:
        raise ConfigError(f"--seeds must be at least 1 (got {seed_count}).")
    if resume is not None:
        runs_dir = _check_resumable(experiment, Path(resume), quick, seed_count, out, runs_dir)
        out = resume
    timing = {
        kind: estimate(
            experiment,
            quick=kind == "quick",
            seeds=seed_count,
            device=device,
            threads=threads,
            measure=measure,
        )
        for kind in ("full", "quick")
    }
    planned = timing["quick" if quick else "full"]
    if experiment.warning:
        say(experiment.warning)
    full_time, quick_time = (format_duration(timing[kind].seconds) for kind in ("full", "quick"))
    say(
        f"{experiment.name}: {'quick' if quick else 'full'} version, {seed_count} seed(s); estimated "
        f"{format_duration(planned.seconds)} ({planned.range_text()}; speeds: {planned.source}; "
        f"full: {full_time}, --quick: {quick_time})."
    )
    directory = Path(resume) if resume is not None else _experiment_dir(experiment, out, runs_dir)
    say(f"{'Continuing the experiment in' if resume is not None else 'Experiment directory:'} {directory}")
    # With --out the experiment's folder is out; a --runs-dir given as well then gets the cells'
    # runs (without --out it holds the experiment's folder, and the runs inside that).
    cell_runs = Path(runs_dir) if out is not None and runs_dir is not None else None
    ctx = Context(
        experiment, directory, quick=quick, seeds=list(range(seed_count)), data_dir=data_dir,
        device=device, threads=threads, progress=progress, say=say, runs_dir=cell_runs,
        resume=resume is not None,
    )  # fmt: skip
    machine = describe_machine(device, threads)
    started = time.time()
    status, error = "running", None
    # Written now as well, so that a killed experiment's folder says what it is: --resume checks it.
    atomic_write_json(directory / RESULTS_FILE, _results(ctx, status, error, started, machine, timing))
    continue_with = resume_command(experiment, quick, seed_count, directory)
    try:
        experiment.run(ctx)
        status = "finished"
    except (KeyboardInterrupt, TrainingInterrupted) as exc:
        status, error = "interrupted", str(exc) or "interrupted by the user"
        raise ExperimentInterrupted(
            f"Experiment {experiment.name} interrupted ({_cells_done(ctx)}; finished runs are kept). "
            f"Continue it with: {continue_with}"
        ) from None
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        say(f"Experiment {experiment.name} failed ({_cells_done(ctx)}). Once the cause is mended, "
            f"continue it with: {continue_with}")  # fmt: skip
        raise
    finally:
        results = _results(ctx, status, error, started, machine, timing)
        atomic_write_json(directory / RESULTS_FILE, results)
        atomic_write_text(directory / REPORT_FILE, compose_report(ctx, results).markdown())
    return ExperimentResult(experiment, directory, results)


class ExperimentInterrupted(TrainingInterrupted):
    """An experiment stopped by Ctrl-C; the message says how to continue it (``--resume DIR``)."""


def resume_command(experiment: Experiment, quick: bool, seeds: int, directory: Path) -> str:
    """The command that continues this experiment in ``directory`` if it stops."""
    return f"{reproduce_command(experiment, quick, seeds)} --resume {directory}"


def _cells_done(ctx: Context) -> str:
    return f"{len(ctx.cells)} of {len(ctx.plan.cells)} cells done"


def _check_resumable(
    experiment: Experiment,
    folder: Path,
    quick: bool,
    seed_count: int,
    out: str | Path | None,
    runs_dir: str | Path | None,
) -> Path | None:
    """Refuse to continue ``folder`` unless it holds this experiment at this size and these seeds;
    return the folder of its cells' runs when they were kept outside it (``--out`` with ``--runs-dir``)."""
    if out is not None or runs_dir is not None:
        raise UsageError(
            "--resume DIR continues the experiment in DIR, where its runs are: give no --out or --runs-dir."
        )
    try:
        recorded = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"--resume {folder}: no readable {RESULTS_FILE} ({type(exc).__name__}): "
            "not an experiment's folder."
        ) from None
    wanted = {"experiment": experiment.name, "version": experiment.version, "quick": quick,
              "seeds": list(range(seed_count))}  # fmt: skip
    differ = [
        f"{key} {recorded.get(key)!r} there, {value!r} here" for key, value in wanted.items()
        if recorded.get(key) != value
    ]  # fmt: skip
    if differ:
        same = f"{recorded.get('command')} --resume {folder}"
        if recorded.get("version") != experiment.version:
            same = "none: this cnnlab runs another version of it; start it afresh with --out"
        raise UsageError(
            f"--resume {folder} holds another experiment run ({'; '.join(differ)}); resume with {same}."
        )
    return Path(recorded["runs_dir"]) if recorded.get("runs_dir") else None


def reproduce_command(experiment: Experiment, quick: bool, seeds: int) -> str:
    flags = " --quick" if quick else ""
    return f"cnnlab experiment {experiment.name}{flags} --seeds {seeds}"


def _experiment_dir(experiment: Experiment, out: str | Path | None, runs_dir: str | Path | None) -> Path:
    if out is not None:
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            raise UsageError(f"--out {out} is not empty; give a new or empty folder, or leave --out out.")
        out.mkdir(parents=True, exist_ok=True)
        return out
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = default_runs_dir(runs_dir) / "experiments"
    return RunDir.create(base, f"{experiment.name}-{stamp}", exist_ok_suffix=True).root


def _results(
    ctx: Context,
    status: str,
    error: str | None,
    started: float,
    machine: dict[str, Any],
    timing: dict[str, Estimate],
) -> dict[str, Any]:
    experiment = ctx.experiment
    return {
        "experiment": experiment.name,
        "version": experiment.version,
        "title": experiment.title,
        "question": experiment.question,
        "status": status,
        "error": error,
        "quick": ctx.quick,
        "seeds": ctx.seeds,
        "command": reproduce_command(experiment, ctx.quick, len(ctx.seeds)),
        "resumed": ctx.resume,
        "resume_command": resume_command(experiment, ctx.quick, len(ctx.seeds), ctx.dir),
        # Where the cells' runs are when not in runs/ (--out with --runs-dir): --resume finds them there.
        "runs_dir": None if ctx.runs_dir == ctx.dir / "runs" else str(ctx.runs_dir.resolve()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "duration_s": round(time.time() - started, 2),
        "estimate": {kind: value.to_dict() for kind, value in timing.items()},
        "machine": machine,
        "datasets": ctx.datasets,
        "cells": {label: cell.to_dict() for label, cell in ctx.cells.items()},
        "course": [check.to_dict() for check in ctx.course_checks()],
        "comparisons": ctx.comparisons,
        "results": ctx.results,
    }
