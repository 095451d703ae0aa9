"""``run_experiment``: estimate, run a recipe in its own directory, and write ``report.md`` and
``results.json`` (atomically; also when the recipe fails or is interrupted, with that status).

The directory is ``--out``, else ``<runs dir>/experiments/<name>-<timestamp>/`` (runs dir:
``--runs-dir``, ``$CNNLAB_RUNS`` or ``./runs``). It holds the report, its PNGs, ``results.json``
and the training runs of every cell and seed under ``runs/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_write_json, atomic_write_text
from cnnlab.errors import ConfigError, UsageError
from cnnlab.experiments.context import Context
from cnnlab.experiments.machine import describe_machine, machine_summary
from cnnlab.experiments.registry import Experiment, get_experiment
from cnnlab.experiments.report import (
    Report,
    format_count,
    format_duration,
    format_metric,
    format_summary,
    metric_title,
)
from cnnlab.experiments.timing import Estimate, Measure, estimate
from cnnlab.runs.rundir import RunDir, default_runs_dir
from cnnlab.train import TrainingInterrupted

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"


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


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    seeds: int | None = None,
    out: str | Path | None = None,
    runs_dir: str | Path | None = None,
    data_dir: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    say: Callable[[str], None] = lambda text: None,
    measure: Measure | None = None,
) -> ExperimentResult:
    """Run experiment ``name`` (``quick``: its short version) over ``seeds`` seeds (default: the recipe's)."""
    experiment = get_experiment(name)
    seed_count = experiment.size(quick).seeds if seeds is None else seeds
    if seed_count < 1:
        raise ConfigError(f"--seeds must be at least 1 (got {seed_count}).")
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
        f"{format_duration(planned.seconds)} on this machine (full: {full_time}, --quick: {quick_time})."
    )
    directory = _experiment_dir(experiment, out, runs_dir)
    say(f"Experiment directory: {directory}")
    ctx = Context(
        experiment, directory, quick=quick, seeds=list(range(seed_count)), data_dir=data_dir,
        device=device, threads=threads, progress=progress, say=say,
    )  # fmt: skip
    machine = describe_machine(device, threads)
    started = time.time()
    status, error = "running", None
    try:
        experiment.run(ctx)
        status = "finished"
    except (KeyboardInterrupt, TrainingInterrupted) as exc:
        status, error = "interrupted", str(exc) or "interrupted by the user"
        raise
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        results = _results(ctx, status, error, started, machine, timing)
        atomic_write_json(directory / RESULTS_FILE, results)
        atomic_write_text(directory / REPORT_FILE, compose_report(ctx, results).markdown())
    return ExperimentResult(experiment, directory, results)


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


def compose_report(ctx: Context, results: dict[str, Any]) -> Report:
    """The whole report: header, setting, the recipe's results, course check, answer, runs and machine."""
    experiment = ctx.experiment
    report = Report()
    report.heading(f"{experiment.title}", level=1)
    version = (
        "quick version (small subsets: a check that it runs, not the recipe's numbers)"
        if ctx.quick
        else "full version"
    )
    report.text(
        f"`{results['command']}` · experiment version {experiment.version} · {version} · "
        f"{len(ctx.seeds)} seed(s) · started {results['started']}"
    )
    if results["status"] != "finished":
        report.text(f"**Status: {results['status']}** ({results['error']}). The numbers below are partial.")
    if experiment.warning:
        report.text(f"> {experiment.warning}")
    report.text(f"**The question.** {experiment.question}")
    _setting_section(ctx, report)
    report.heading("Results")
    report.extend(ctx.report)
    _course_section(ctx, report)
    if ctx.answer.blocks:
        report.heading("The answer")
        if ctx.quick:
            report.text(
                "*Quick version: the numbers below come from a few steps on a small subset. The reasoning "
                "holds; the numbers are the full version's to give.*"
            )
        report.extend(ctx.answer)
    _machine_section(ctx, results, report)
    return report


def _setting_section(ctx: Context, report: Report) -> None:
    report.heading("Setting")
    rows = []
    for spec in ctx.plan.cells:
        cell = ctx.cells.get(spec.label)
        settings = ", ".join(f"{key}={value}" for key, value in spec.settings.items())
        rows.append(
            [
                spec.label,
                spec.model_name,
                format_count(cell.parameters) if cell else "(not run)",
                cell.dataset if cell else spec.dataset,
                f"{format_count(cell.train_images)} / {format_count(cell.test_images)}" if cell else "",
                settings,
            ]
        )
    report.table(["cell", "model", "parameters", "data", "train / test images", "settings"], rows)
    report.text(
        f"Seeds {', '.join(map(str, ctx.seeds))}: each seed sets the initialisation, the data order, the "
        "augmentation and dropout. Tables show mean ± sample std over the seeds; results.json has every "
        "seed's numbers."
    )
    notes = [
        f"{name}: {info['verification']} ({info['location']})" for name, info in sorted(ctx.datasets.items())
    ]
    if notes:
        report.text("Data, as verified when loaded:")
        report.bullets(notes)
    if any("official" not in info["verification"] for info in ctx.datasets.values()):
        report.text(
            "Data not verified against the official checksums (e.g. this CIFAR-10 copy, rebuilt from "
            "JPEG) can shift accuracies by itself: keep that in mind against the course's numbers."
        )


def _course_section(ctx: Context, report: Report) -> None:
    checks = ctx.course_checks()
    if not checks:
        return
    report.heading("Against the course's numbers")
    if ctx.quick:
        report.text(
            "This is the quick version (a small subset, few steps): its numbers are not comparable with "
            "the course's. The comparison below only shows the form it takes in the full version."
        )
    rows = []
    for check in checks:
        metric = check.reference.metric
        rows.append(
            [
                check.reference.cell,
                metric_title(metric),
                format_metric(check.reference.value, metric),
                format_summary(check.summary, metric),
                check.verdict(),
            ]
        )
    report.table(["cell", "metric", "course", "ours (mean ± std)", "within seed noise?"], rows)
    report.text(
        "The course reports one run per setting. If that run came from the same distribution as ours, "
        "it falls inside our 95% prediction interval for one run (mean ± t·std·√(1 + 1/n)); outside, "
        "the difference is more than seed noise."
    )


def _machine_section(ctx: Context, results: dict[str, Any], report: Report) -> None:
    report.heading("Runs, time and machine")
    rows = [[cell.label, ", ".join(cell.runs), f"{cell.time_s:.1f} s"] for cell in ctx.cells.values()]
    if rows:
        report.table(["cell", "run directories", "training time"], rows)
    kind = "quick" if ctx.quick else "full"
    report.bullets(
        [
            f"Total time: {format_duration(results['duration_s'])} (estimated before the start: "
            f"{format_duration(results['estimate'][kind]['seconds'])}).",
            f"Machine: {machine_summary(results['machine'])}.",
            f"Reproduce: `{results['command']}`.",
        ]
    )
