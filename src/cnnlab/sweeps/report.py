"""The end of a sweep: the best settings retrained over seeds and tested once; ``report.md``,
``results.json`` and Optuna's plots in ``<runs-dir>/sweeps/<name>/``; and ``--show``'s state.

The final runs are ``<name>-best<N>-seed<S>`` (group ``<name>-best<N>``, N the best trial): the
best trial's exact settings, seeds S = its seed, +1, +2, ... (so the first repeats the trial, to
the bit on the same machine), each evaluated on the test set once, after its last epoch. Every
number in the report is read from ``results.json``, which holds the per-seed values.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_path, atomic_write_json, atomic_write_text
from cnnlab.errors import TrainingError
from cnnlab.experiments.report import Report, format_metric, format_summary, metric_title
from cnnlab.formatting import format_duration
from cnnlab.sweeps.space import MODEL_ARGS, settings_with
from cnnlab.sweeps.storage import redacted_url

REPORT_FOLDER = "sweeps"
BEST_SHOWN = 5
PLOTS = {"history": "history.png", "parallel": "parallel_coordinates.png"}
# Settings a reproducing command leaves out: set per run, or where the runs go.
NOT_REPRODUCED = ("name", "group", "runs_dir")


def report_dir(runs_dir: str | Path, name: str) -> Path:
    return Path(runs_dir) / REPORT_FOLDER / name


def finish_sweep(plan: Any, study: Any) -> Any:
    """Final runs (unless ``final_seeds`` is 0), then report.md, results.json and the plots."""
    from cnnlab.sweeps.api import SweepResult, trial_counts

    study = _fresh(plan, study)
    counts = trial_counts(study)
    if counts.finished < plan.trials:
        raise TrainingError(
            f"The study has {counts.finished} of {plan.trials} finished trials; "
            "run the same command again to continue."
        )
    best = _best_trial(study, plan)
    settings = best_settings(plan, best)
    finals = final_runs(plan, best, settings) if plan.final_seeds else []
    folder = report_dir(plan.runs_dir, plan.name)
    folder.mkdir(parents=True, exist_ok=True)
    plots = write_plots(study, folder)
    results = sweep_results(plan, study, best, settings, finals, plots)
    atomic_write_json(folder / "results.json", results)
    atomic_write_text(folder / "report.md", render_report(results))
    _say_done(plan, results, folder)
    return SweepResult(plan.name, study, dict(best.params), float(best.value), results, folder)


def _fresh(plan: Any, study: Any) -> Any:
    from cnnlab.sweeps.api import load_plan_study

    return load_plan_study(plan) if study is None else study


def _best_trial(study: Any, plan: Any) -> Any:
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise TrainingError(
            f"Every trial of {plan.name} was pruned or failed, so there is no best one: "
            "run more trials (--trials) or a gentler pruner (--pruner none)."
        )
    return study.best_trial


def best_settings(plan: Any, trial: Any) -> dict[str, Any]:
    """The best trial's full settings: the space's fixed ones plus its parameters."""
    return settings_with(plan.space.fixed, trial.params)


def final_runs(plan: Any, best: Any, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Train the best settings once per seed (reusing finished runs of an earlier call)."""
    from cnnlab.runs.rundir import RunDir
    from cnnlab.training.api import train

    group = f"{plan.name}-best{best.number}"
    first_seed = int(settings.get("seed", 0))
    runs = []
    for seed in range(first_seed, first_seed + plan.final_seeds):
        name = f"{group}-seed{seed}"
        folder = RunDir(Path(plan.runs_dir) / name)
        if not (folder.config_path.is_file() and folder.read_result().get("status") == "finished"):
            if folder.root.exists():
                raise TrainingError(
                    f"{folder.root} exists but did not finish: "
                    "remove it and run the sweep again to retrain it."
                )
            options = {**settings, "seed": seed, "name": name, "group": group, "runs_dir": plan.runs_dir}
            # The trials' threads: the first seed then repeats the best trial to the bit.
            options.update(test_every=0, threads=settings.get("threads") or plan.threads)
            train(progress=plan.progress, **options)
        result = folder.read_result()
        runs.append({"seed": seed, "run": name, "dir": str(folder.root), "final": result["final"]})
    return runs


# -- plots -------------------------------------------------------------------------------------
def write_plots(study: Any, folder: Path) -> dict[str, str]:
    """Optuna's optimisation history and parallel-coordinates plots as PNG; {kind: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    written = {}
    for kind, draw in (
        ("history", optuna_plots.plot_optimization_history),
        ("parallel", optuna_plots.plot_parallel_coordinate),
    ):
        with warnings.catch_warnings():
            # Experimental in Optuna; and matplotlib warns of flat axes (a setting that never varied).
            warnings.simplefilter("ignore")
            axes = draw(study)
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.set_size_inches(9, 5)
        figure.tight_layout()
        with atomic_path(folder / PLOTS[kind]) as tmp:
            figure.savefig(tmp, format="png", dpi=110)
        plt.close(figure)
        written[kind] = PLOTS[kind]
    return written


# -- results.json ------------------------------------------------------------------------------
def sweep_results(
    plan: Any,
    study: Any,
    best: Any,
    settings: dict[str, Any],
    finals: list[dict[str, Any]],
    plots: dict[str, str],
) -> dict[str, Any]:
    from cnnlab.sweeps.api import trial_counts

    counts = trial_counts(study)
    return {
        "sweep": plan.name,
        "status": "finished",
        "storage": redacted_url(plan.storage),
        "model": str(plan.space.fixed.get("model", "lenet5")),
        "dataset": plan.dataset,
        "metric": plan.metric,
        "direction": plan.direction,
        "pruner": plan.pruner,
        "space": plan.space.describe(),
        "trials": {
            "asked": plan.trials,
            "complete": counts.complete,
            "pruned": counts.pruned,
            "failed": counts.failed,
            "diverged": counts.diverged,
        },  # fmt: skip
        "best_trials": [_trial_entry(t) for t in ranked_trials(study)[:BEST_SHOWN]],
        "best": {**_trial_entry(best), "settings": settings},
        "importance": param_importance(study),
        "final": final_entry(finals),
        "plots": plots,
        "reproduce": reproduce_command(settings, searched=plan.space.names),
    }


def ranked_trials(study: Any) -> list[Any]:
    """Completed trials, best first."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(trials, key=lambda t: t.value, reverse=study.direction == StudyDirection.MAXIMIZE)


def _trial_entry(trial: Any) -> dict[str, Any]:
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    return {
        "number": trial.number,
        "value": trial.value,
        "params": dict(trial.params),
        "run": trial.user_attrs.get("run"),
        "duration_s": duration,
    }


def param_importance(study: Any) -> dict[str, Any]:
    """Optuna's fANOVA importance of each parameter (sums to 1), or why there is none."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:
        return {"values": {}, "note": f"not computed: {exc}"}
    return {
        "values": {k: float(v) for k, v in values.items()},
        "note": "fANOVA (optuna.importance), sums to 1",
    }


def final_entry(finals: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed test metrics and their mean ± sample std (cnnlab.training.seed_study's statistics)."""
    from cnnlab.training.seed_study import summarize_metrics

    if not finals:
        return {"seeds": [], "runs": [], "summary": {}}
    summary = summarize_metrics(run["final"] for run in finals)
    return {
        "seeds": [run["seed"] for run in finals],
        "runs": finals,
        "summary": {metric: s.to_dict() for metric, s in summary.items()},
    }


def reproduce_command(settings: dict[str, Any], searched: Sequence[str] = ()) -> str:
    """``cnnlab train ...`` with every searched setting and every other that is not the default."""
    from cnnlab.training.config import TrainConfig

    defaults = TrainConfig().to_dict()
    words = ["cnnlab", "train", "--model", str(settings.get("model", defaults["model"]))]
    words += ["--dataset", str(settings.get("dataset", defaults["dataset"]))]
    for name, value in settings.items():
        if name in (*NOT_REPRODUCED, MODEL_ARGS, "model", "dataset"):
            continue
        plain = list(value) if isinstance(value, tuple) else value
        if name in defaults and plain == defaults[name] and name not in searched:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        else:
            words += [flag, ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)]
    for key, value in settings.get(MODEL_ARGS, {}).items():
        words += ["--model-arg", f"{key}={value}"]
    return shlex.join(words)


# -- report.md ---------------------------------------------------------------------------------
def render_report(results: dict[str, Any]) -> str:
    """report.md from results.json alone."""
    metric = results["metric"]
    trials = results["trials"]
    report = Report()
    report.heading(f"Sweep {results['sweep']}: {results['model']} on {results['dataset']}", 1)
    report.text(
        f"{trials['complete'] + trials['pruned']} finished trials ({trials['complete']} complete, "
        f"{trials['pruned']} pruned by the {results['pruner']} pruner; {trials['failed']} failed and not "
        f"counted), each a run measured on its validation split ({results['direction']} {metric}); "
        f"storage `{results['storage']}`. The test set was used only by the final runs."
    )
    report.heading("Best trials")
    names = list(results["space"]["search"])
    rows = [
        [
            t["number"],
            format_metric(t["value"], metric),
            *(_value(t["params"].get(n)) for n in names),
            t["run"],
        ]
        for t in results["best_trials"]
    ]
    report.table(["trial", metric_title(metric), *names, "run"], rows)
    report.heading("Importance of each setting")
    importance = results["importance"]
    if importance["values"]:
        report.table(["setting", "importance"], [[k, f"{v:.3f}"] for k, v in importance["values"].items()])
    report.text(f"Importance: {importance['note']}.")
    _final_section(report, results)
    report.heading("Plots")
    report.image(results["plots"]["history"], f"Optimisation history: {metric_title(metric)} per trial")
    report.image(
        results["plots"]["parallel"], "Parallel coordinates: each line a trial, coloured by its value"
    )
    report.heading("Reproduce the best run")
    report.code(results["reproduce"], "bash")
    report.text("The search space:")
    report.code("\n".join(f"{k} = {v}" for k, v in results["space"]["search"].items()))
    return report.markdown()


def _final_section(report: Report, results: dict[str, Any]) -> None:
    final = results["final"]
    report.heading("The best settings on the test set")
    if not final["runs"]:
        report.text("No final runs (--final-seeds 0).")
        return
    summary = final["summary"]
    shown = [m for m in ("test_accuracy", "test_loss", "val_accuracy", "val_loss") if m in summary]
    rows = [[metric_title(m), _summary_text(summary[m], m), summary[m]["n"]] for m in shown]
    report.table(["metric", "mean ± std over seeds", "n"], rows)
    report.table(
        ["seed", "run", *map(metric_title, shown)],
        [[r["seed"], r["run"], *(format_metric(r["final"][m], m) for m in shown)] for r in final["runs"]],
    )
    seconds = sum(t["duration_s"] or 0 for t in results["best_trials"][:1])
    report.text(f"The best trial took {format_duration(seconds)}; its settings are in results.json.")


def _summary_text(entry: dict[str, Any], metric: str) -> str:
    """``87.12 ± 0.35%`` from a summary as results.json holds it."""
    from cnnlab.runs.stats import Summary

    return format_summary(Summary(**{k: v for k, v in entry.items() if k != "half_width"}), metric)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _say_done(plan: Any, results: dict[str, Any], folder: Path) -> None:
    import sys

    if not plan.progress:
        return
    summary = results["final"]["summary"]
    test = summary.get("test_accuracy") or summary.get("test_loss")
    metric = "test_accuracy" if "test_accuracy" in summary else "test_loss"
    best = results["best"]
    line = f"Best trial {best['number']}: {plan.metric} {format_metric(best['value'], plan.metric)}"
    if test:
        line += f"; on the test set over {test['n']} seeds: {_summary_text(test, metric)}"
    print(
        f"{line}\nReport: {folder / 'report.md'}\nReproduce: {results['reproduce']}",
        file=sys.stderr,
        flush=True,
    )


# -- --show ------------------------------------------------------------------------------------
def sweep_state(name: str, storage_url: str, heartbeat_s: int | None = None) -> dict[str, Any]:
    """The study's state: counts by state, the best trial so far, every trial."""
    import optuna

    from cnnlab.errors import UsageError
    from cnnlab.sweeps.api import trial_counts
    from cnnlab.sweeps.storage import HEARTBEAT_S, open_storage

    storage = open_storage(storage_url, heartbeat_s or HEARTBEAT_S)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if name not in names:
        raise UsageError(
            f"No sweep '{name}' in {redacted_url(storage_url)}; it has: {', '.join(sorted(names)) or 'none'}."
        )
    study = optuna.load_study(study_name=name, storage=storage)
    counts = trial_counts(study)
    description = study.user_attrs.get("cnnlab", {})
    ranked = ranked_trials(study)
    return {
        "sweep": name,
        "storage": redacted_url(storage_url),
        "metric": description.get("metric"),
        "direction": study.direction.name.lower(),
        "counts": {
            "finished": counts.finished,
            **{k: getattr(counts, k) for k in ("complete", "pruned", "running", "waiting", "failed")},
        },
        "best": _trial_entry(ranked[0]) if ranked else None,
        "trials": [_state_row(t) for t in study.get_trials(deepcopy=False)],
    }


def _state_row(trial: Any) -> dict[str, Any]:
    return {
        **_trial_entry(trial),
        "state": "surplus" if trial.user_attrs.get("surplus") else trial.state.name.lower(),
        "worker": trial.user_attrs.get("worker"),
        "epochs_reported": len(trial.intermediate_values),
    }


__all__ = ["final_runs", "finish_sweep", "render_report", "reproduce_command", "sweep_state"]
