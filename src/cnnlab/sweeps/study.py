"""A sweep's Optuna study: opened or continued, loaded with the plan's sampler and pruner, and
counted. Both :mod:`cnnlab.sweeps.api` (the workers) and :mod:`cnnlab.sweeps.report` (the end)
read it; it imports neither."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.errors import UsageError
from cnnlab.sweeps.storage import default_storage, open_storage

if TYPE_CHECKING:
    from cnnlab.sweeps.api import SweepPlan


@dataclass
class SweepResult:
    """What :func:`sweep` returns: the study, the best trial, the final runs and the report."""

    name: str
    study: Any  # optuna.Study
    best_params: dict[str, Any]
    best_value: float
    results: dict[str, Any] = field(default_factory=dict)  # results.json
    report_dir: Path | None = None


def open_study(plan: SweepPlan, enqueue: Sequence[Mapping[str, Any]] = ()) -> Any:
    """Create the study, or continue it after checking it has the same space, metric and model."""
    import optuna

    if plan.storage == default_storage(plan.runs_dir):
        Path(plan.runs_dir).mkdir(parents=True, exist_ok=True)  # the database file goes there
    storage = open_storage(plan.storage, plan.heartbeat_s)  # nothing else is written before it opens
    description = study_description(plan)
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if plan.name in existing:
        study = optuna.load_study(study_name=plan.name, storage=storage)
        _check_same_study(plan, study.user_attrs.get("cnnlab", {}), description)
        return study
    if (Path(plan.runs_dir) / f"{plan.name}-trial0").exists():
        raise UsageError(
            f"{plan.runs_dir} already has runs of a sweep '{plan.name}', but {plan.storage} holds no "
            "such study: give the sweep another name, or the --storage it was run with."
        )
    study = optuna.create_study(study_name=plan.name, storage=storage, direction=plan.direction)
    study.set_user_attr("cnnlab", description)
    for values in enqueue:
        study.enqueue_trial(dict(values))
    return study


def study_description(plan: SweepPlan) -> dict[str, Any]:
    """What a study records of its sweep; a resumed sweep must match it (``trials`` may grow)."""
    return {"space": plan.space.describe(), "metric": plan.metric, "dataset": plan.dataset}


def _check_same_study(plan: SweepPlan, recorded: Mapping[str, Any], description: Mapping[str, Any]) -> None:
    different = [key for key in description if recorded.get(key) != description[key]]
    if different:
        raise UsageError(
            f"The study '{plan.name}' in {plan.storage} was started with another {' and '.join(different)} "
            f"({', '.join(f'{k}: {recorded.get(k)}' for k in different)}); give this sweep another name."
        )


def load_plan_study(plan: SweepPlan, worker: int = 1) -> Any:
    """The study with the plan's sampler and pruner; each worker seeds its sampler differently, or
    they would all draw the same first settings."""
    import optuna

    seed = None if plan.sampler_seed is None else plan.sampler_seed + worker - 1
    return optuna.load_study(
        study_name=plan.name,
        storage=open_storage(plan.storage, plan.heartbeat_s),
        # constant_liar: a running trial counts as a poor result, so parallel workers spread out.
        sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=True),
        pruner=_pruner(plan),
    )


def _pruner(plan: SweepPlan) -> Any:
    import optuna

    if plan.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=plan.pruner_startup, n_warmup_steps=0)
    if plan.pruner == "hyperband":
        epochs = int(plan.space.fixed.get("epochs", 1))
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    return optuna.pruners.NopPruner()


@dataclass(frozen=True)
class Counts:
    complete: int
    pruned: int
    running: int
    waiting: int
    failed: int
    diverged: int

    @property
    def finished(self) -> int:
        return self.complete + self.pruned


def trial_counts(study: Any) -> Counts:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    by_state = {state: sum(t.state == state for t in trials) for state in TrialState}
    return Counts(
        complete=by_state[TrialState.COMPLETE],
        pruned=by_state[TrialState.PRUNED],
        running=by_state[TrialState.RUNNING],
        waiting=by_state[TrialState.WAITING],
        failed=by_state[TrialState.FAIL],
        diverged=sum(t.state == TrialState.FAIL and "diverged" in t.user_attrs for t in trials),
    )
