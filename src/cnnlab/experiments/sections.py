"""The sections every report has, around the experiment's own results and answer: the header and the
question, the setting, the course's numbers against ours, and the runs, time and machine.
"""

from __future__ import annotations

from typing import Any

from cnnlab.experiments.context import Context
from cnnlab.experiments.machine import machine_summary
from cnnlab.experiments.report import Report, format_range, format_summary, metric_title
from cnnlab.formatting import format_count, format_duration


def compose_report(ctx: Context, results: dict[str, Any]) -> Report:
    """The whole report: header, setting, the experiment's results, course check, answer, runs and machine."""
    experiment = ctx.experiment
    report = Report()
    report.heading(f"{experiment.title}", level=1)
    version = (
        "quick version (small subsets: a check that it runs, not the experiment's numbers)"
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
                format_range(check.reference.value, check.reference.high, metric),
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
