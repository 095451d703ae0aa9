"""``cnnlab.sweep(...)``: an Optuna study whose trials are cnnlab runs, then the best settings
retrained over several seeds and evaluated once on the test set.

Order of work: every option and the whole space are checked first (one error listing all problems,
nothing written); then the storage is opened and the study created or continued; then ``workers``
processes run trials until the study holds ``trials`` finished ones (complete or pruned: a dead
worker's trial is failed after its heartbeat stops and retried, so it is never lost nor counted);
then the final runs and the report (:mod:`cnnlab.sweeps.report`).

Running the same sweep again continues it: finished trials stay, the count is topped up to
``trials``, and the final runs are reused when they already exist.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError, ConfigError, TrainingError, UsageError, unknown_name_message
from cnnlab.sweeps.objective import DivergedTrial, SurplusTrial, TrialSetup, run_trial
from cnnlab.sweeps.space import SearchSpace, build_space
from cnnlab.sweeps.storage import (
    GRACE_FACTOR,
    HEARTBEAT_S,
    check_storage_url,
    default_storage,
    redacted_url,
)
from cnnlab.sweeps.study import (
    SweepResult,
    load_plan_study,
    open_study,
    trial_counts,
)

PRUNERS = ("median", "hyperband", "none")
DEFAULT_VAL_SPLIT = 0.1
# Optuna's default for the median pruner: trials that are never pruned, so it has a median to use.
PRUNER_STARTUP = 5


class SweepInterrupted(TrainingError):
    """Ctrl-C, or every worker died: the finished trials are kept; the same command continues."""

    exit_code = 130


@dataclass(frozen=True)
class SweepPlan:
    """Everything a worker process needs (picklable: workers are spawned)."""

    name: str
    dataset: str
    space: SearchSpace
    metric: str
    direction: str
    trials: int
    workers: int
    storage: str
    pruner: str
    pruner_startup: int
    runs_dir: str
    heartbeat_s: int
    threads: int | None
    sampler_seed: int | None
    final_seeds: int
    progress: bool


def sweep(
    name: str,
    model: str | None = None,
    dataset: str | None = None,
    *,
    trials: int,
    space: Mapping[str, Any] | None = None,
    params: Sequence[str] = (),
    space_file: str | os.PathLike[str] | None = None,
    workers: int = 1,
    storage: str | None = None,
    pruner: str = "median",
    pruner_startup: int = PRUNER_STARTUP,
    metric: str = "val_accuracy",
    final_seeds: int = 3,
    runs_dir: str | os.PathLike[str] | None = None,
    heartbeat_s: int = HEARTBEAT_S,
    sampler_seed: int | None = None,
    enqueue: Sequence[Mapping[str, Any]] = (),
    progress: bool = True,
    **settings: Any,
) -> SweepResult:
    """Search ``space`` with Optuna, each trial a cnnlab run; retrain the best with ``final_seeds``.

    ``space``: ``{"lr": "log:1e-4:1e-1", "optimizer": ["sgd", "adam"], "model_args.dropout":
    "float:0:0.5"}``; ``params``: the same as ``"NAME=SPEC"`` strings (a value without a kind is a
    fixed setting); ``space_file``: a TOML file with ``[search]`` and ``[fixed]`` tables;
    ``settings``: any fixed ``cnnlab train`` setting (``epochs=3, subset=2000``). ``trials``: how
    many finished trials the study should hold. ``metric``: a validation metric, maximised for
    accuracies and minimised otherwise. ``enqueue``: settings tried first (e.g. your defaults).

    Raises ConfigError (all problems at once) before anything is written, StorageError when the
    database cannot be opened, SweepInterrupted when stopped before the end.
    """
    plan = make_plan(
        name, model, dataset, trials=trials, space=space, params=params, space_file=space_file,
        workers=workers, storage=storage, pruner=pruner, pruner_startup=pruner_startup, metric=metric,
        final_seeds=final_seeds, runs_dir=runs_dir, heartbeat_s=heartbeat_s, sampler_seed=sampler_seed,
        progress=progress, settings=settings,
    )  # fmt: skip
    study = open_study(plan, enqueue)
    _say(plan, _start_line(plan, study))
    run_workers(plan)
    from cnnlab.sweeps.report import finish_sweep

    return finish_sweep(plan, study)


# -- checking ----------------------------------------------------------------------------------
def make_plan(
    name: str,
    model: str | None,
    dataset: str | None,
    *,
    trials: int,
    space: Mapping[str, Any] | None,
    params: Sequence[str],
    space_file: str | os.PathLike[str] | None,
    workers: int,
    storage: str | None,
    pruner: str,
    pruner_startup: int,
    metric: str,
    final_seeds: int,
    runs_dir: str | os.PathLike[str] | None,
    heartbeat_s: int,
    sampler_seed: int | None,
    progress: bool,
    settings: Mapping[str, Any],
) -> SweepPlan:
    """Every option and the space checked, all problems in one ConfigError; nothing written."""
    from cnnlab.runs.rundir import default_runs_dir, safe_run_name

    problems = _option_problems(
        name, trials, workers, pruner, pruner_startup, metric, final_seeds, heartbeat_s
    )
    fixed = dict(settings)
    fixed.update({k: v for k, v in (("model", model), ("dataset", dataset)) if v is not None})
    built = _checked_space(space, fixed, params, space_file, problems)
    if built is not None:
        problems += _data_problems(built)
    if storage:
        try:
            check_storage_url(storage)
        except UsageError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("Invalid sweep:\n" + "\n".join(f"  - {p}" for p in dict.fromkeys(problems)))
    assert built is not None and safe_run_name(name) == name
    runs = default_runs_dir(built.fixed.get("runs_dir") or runs_dir).resolve()
    url = check_storage_url(storage) if storage else default_storage(runs)
    return SweepPlan(
        name=name,
        dataset=str(built.fixed.get("dataset", "mnist")),
        space=built,
        metric=metric,
        direction="maximize" if metric.endswith("accuracy") else "minimize",
        trials=trials,
        workers=workers,
        storage=url,
        pruner=pruner,
        pruner_startup=pruner_startup,
        runs_dir=str(runs),
        heartbeat_s=heartbeat_s,
        threads=built.fixed.get("threads") or max(1, (os.cpu_count() or 1) // workers),
        sampler_seed=sampler_seed,
        final_seeds=final_seeds,
        progress=progress,
    )


def _option_problems(
    name: str,
    trials: int,
    workers: int,
    pruner: str,
    startup: int,
    metric: str,
    final_seeds: int,
    heartbeat: int,
) -> list[str]:
    from cnnlab.runs.rundir import safe_run_name

    problems = []
    if not name or safe_run_name(name) != name:
        problems.append(
            f"the sweep's name {name!r} must be usable as a folder name, e.g. {safe_run_name(name)!r}."
        )
    for option, value, low in (
        ("--trials", trials, 1), ("--workers", workers, 1), ("--final-seeds", final_seeds, 0),
        ("--pruner-startup", startup, 0), ("--heartbeat", heartbeat, 1),
    ):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(f"{option} must be a whole number >= {low} (got {value!r}).")
    if pruner not in PRUNERS:
        problems.append(unknown_name_message("pruner", str(pruner), PRUNERS))
    if not str(metric).startswith("val_"):
        problems.append(
            f"--metric {metric}: a sweep chooses on the validation split, so give a val_ metric "
            "(val_accuracy, val_loss); choosing on the test set would make its numbers optimistic."
        )
    return problems


def _checked_space(
    space: Mapping[str, Any] | None,
    fixed: dict[str, Any],
    params: Sequence[str],
    space_file: str | os.PathLike[str] | None,
    problems: list[str],
) -> SearchSpace | None:
    """The space, with the validation split the objective needs (10% of the training images unless
    set); its problems added to ``problems``."""
    try:
        built = build_space(
            space, fixed, params=params, space_file=space_file, defaults={"val_split": DEFAULT_VAL_SPLIT}
        )
    except ConfigError as exc:
        problems += [line.strip()[2:] for line in str(exc).splitlines() if line.strip().startswith("- ")]
        return None
    if "val_split" in built.names:
        problems.append(
            "val_split cannot be searched: it changes the validation set the trials are compared on."
        )
        return None
    if not built.fixed.get("val_split"):
        problems.append("val_split must be > 0: the sweep measures every trial on a validation split.")
        return None
    return built


def _data_problems(space: SearchSpace) -> list[str]:
    """Unknown models (fixed or among the choices) and datasets, before any data is loaded."""
    from cnnlab.data.datasets import get_spec_or_folder_hint, is_folder_path
    from cnnlab.models import get_info

    problems = []
    models = [space.fixed.get("model", "lenet5")]
    models += [c for p in space.params if p.name == "model" for c in p.choices]
    for model in models:
        try:
            get_info(str(model))
        except CnnlabError as exc:
            problems.append(str(exc))
    dataset = str(space.fixed.get("dataset", "mnist"))
    if is_folder_path(dataset):
        if not Path(dataset).is_dir():
            problems.append(f"dataset {dataset}: no such folder.")
    else:
        try:
            get_spec_or_folder_hint(dataset)
        except CnnlabError as exc:
            problems.append(str(exc))
    return problems


# -- workers -----------------------------------------------------------------------------------
def run_workers(plan: SweepPlan) -> None:
    """Run trials in this process (one worker) or in ``plan.workers`` spawned processes."""
    if plan.workers == 1:
        from cnnlab.training.interrupts import TrainingInterrupted

        try:
            work(plan, 1)
        except (TrainingInterrupted, KeyboardInterrupt):
            raise SweepInterrupted(_stopped_message(plan, "Interrupted")) from None
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker_main, args=(plan, index), name=f"cnnlab-sweep-{index}")
        for index in range(1, plan.workers + 1)
    ]
    for process in processes:
        process.start()
    try:
        _wait_for(plan, processes)
    except KeyboardInterrupt:
        _stop(processes)
        raise SweepInterrupted(_stopped_message(plan, "Interrupted")) from None


def _wait_for(plan: SweepPlan, processes: list[Any]) -> None:
    reported: set[int] = set()
    while any(p.is_alive() for p in processes):
        for index, process in enumerate(processes, 1):
            process.join(timeout=0.5)
            code = process.exitcode
            if code is not None and code < 0 and index not in reported:
                reported.add(index)
                stale = plan.heartbeat_s * GRACE_FACTOR
                _say(
                    plan,
                    f"Worker {index} (pid {process.pid}) was killed (signal {-code}); "
                    f"its trial is retried once its heartbeat is {stale} s old.",
                )
    codes = [p.exitcode for p in processes]
    if 130 in codes:
        raise SweepInterrupted(_stopped_message(plan, "Interrupted"))
    errors = [i for i, code in enumerate(codes, 1) if code and code > 0]
    if errors:
        raise TrainingError(
            f"Worker {', '.join(map(str, errors))} stopped with an error (its message is above). "
            + _continue_hint(plan)
        )


def _stop(processes: list[Any]) -> None:
    """After Ctrl-C (which every worker got too): give them time to close their runs."""
    deadline = time.monotonic() + 60
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()


def _stopped_message(plan: SweepPlan, what: str) -> str:
    return f"{what}. {_continue_hint(plan)}"


def _continue_hint(plan: SweepPlan) -> str:
    try:
        counts = trial_counts(load_plan_study(plan))
        done = f"{counts.finished} of {plan.trials} trials are finished and kept; "
    except CnnlabError:
        done = ""
    return f"{done}run the same command again to continue."


def _worker_main(plan: SweepPlan, index: int) -> None:
    """A spawned worker: messages on stderr, the exit code says how it ended."""
    from rich.markup import escape

    from cnnlab.commands.output import err_console

    try:
        work(plan, index)
    except KeyboardInterrupt:
        sys.exit(130)
    except CnnlabError as exc:
        err_console.print(f"[bold red]Error (worker {index}):[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)


def work(plan: SweepPlan, index: int) -> None:
    """One worker: run trials until the study holds ``plan.trials`` finished ones.

    When the others are running the last trials, wait instead of leaving: if one of them dies, its
    trial is failed once its heartbeat is stale and retried, here or by another worker.
    """
    import optuna

    study = load_plan_study(plan, index)
    setup = TrialSetup(plan.name, plan.space, plan.metric, plan.trials, plan.runs_dir, plan.threads)
    train_data = _train_split(plan)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        counts = trial_counts(study)
        if counts.finished >= plan.trials:
            return
        if counts.diverged >= max(plan.trials, 3):
            raise TrainingError(
                f"{counts.diverged} trials diverged (see `cnnlab sweep --show {plan.name}`): "
                "narrow the space, e.g. lower the largest learning rate."
            )
        if counts.finished + counts.running >= plan.trials:
            time.sleep(min(plan.heartbeat_s, 5))
            continue
        try:
            study.optimize(
                lambda trial: run_trial(trial, setup, train_data),
                n_trials=1,
                catch=(SurplusTrial, DivergedTrial),
                callbacks=[lambda study, trial: _trial_line(plan, index, study, trial)],
                gc_after_trial=True,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            # This worker's heartbeat stalled past the grace period (a machine far too busy), so its
            # trial was failed and queued again; its result is dropped and the retry counts instead.
            _say(plan, f"[worker {index}] a trial outlived its stale heartbeat; its retry counts instead.")


def _train_split(plan: SweepPlan) -> Any:
    """The training images, loaded once a worker; the trials cut their subset and validation split."""
    from cnnlab.data import load_dataset

    return load_dataset(plan.dataset, "train", data_dir=plan.space.fixed.get("data_dir"), progress=False)


def _trial_line(plan: SweepPlan, worker: int, study: Any, trial: Any) -> None:
    from optuna.trial import TrialState

    if trial.user_attrs.get("surplus"):
        return
    state = trial.state
    params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    if state == TrialState.COMPLETE:
        outcome = f"{plan.metric} {_metric_text(plan.metric, trial.value)}"
    elif state == TrialState.PRUNED:
        outcome = "pruned"
    else:
        outcome = "failed: " + str(trial.user_attrs.get("diverged", "see the worker's message"))
    finished = trial_counts(study).finished
    _say(
        plan,
        f"[worker {worker}] trial {trial.number} {outcome}  ({params})  {finished}/{plan.trials} finished",
    )


def _start_line(plan: SweepPlan, study: Any) -> str:
    counts = trial_counts(study)
    already = f", {counts.finished} finished already" if counts.finished else ""
    workers = f"{plan.workers} worker{'s' if plan.workers > 1 else ''} x {plan.threads} thread(s)"
    return (
        f"Sweep {plan.name}: {plan.trials} trials{already} on {workers}, {plan.direction} {plan.metric}; "
        f"storage {redacted_url(plan.storage)}. Watch it: cnnlab sweep --show {plan.name}"
        + ("" if plan.storage == default_storage(plan.runs_dir) else " --storage URL")
    )


def _metric_text(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if metric.endswith("accuracy") else f"{value:.4g}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _say(plan: SweepPlan, text: str) -> None:
    if plan.progress:
        print(text, file=sys.stderr, flush=True)


__all__ = [
    "PRUNERS",
    "SweepInterrupted",
    "SweepPlan",
    "SweepResult",
    "make_plan",
    "open_study",
    "sweep",
    "trial_counts",
]
