"""One trial of a sweep: an ordinary cnnlab run, measured on its validation split, prunable per epoch.

The trial trains through :func:`cnnlab.training.api.train` with the training split given as an
:class:`~cnnlab.data.ImageDataset` and no test set, so a trial cannot see (or be chosen on) the test
images: they are used once, by the final runs. Its run is ``<sweep>-trial<N>`` in group ``<sweep>``.

Pruning goes through the trainer's :class:`~cnnlab.training.progress.Reporter` hooks: after each
epoch's record (and its checkpoint) :class:`PruningReporter` reports the metric to Optuna and raises
``optuna.TrialPruned`` when the pruner says so. The trainer then closes the run as failed (it treats
any exception from a hook so); :func:`mark_pruned` rewrites its ``result.json`` as ``pruned`` and its
index row, so ``cnnlab runs list --status pruned`` finds it. Its ``checkpoints/last.pt`` is intact.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from typing import Any

from cnnlab.errors import TrainingError, UsageError
from cnnlab.training.progress import Reporter

PRUNED = "pruned"


class SurplusTrial(Exception):
    """Two workers started the last trial at once; the later one gives its trial up untrained."""


class DivergedTrial(Exception):
    """The trial's loss diverged: a failed trial Optuna's sampler learns nothing from, not a fault."""


class PruningReporter(Reporter):
    """Reports ``metric`` after every epoch to an Optuna trial; raises TrialPruned when told to."""

    def __init__(self, trial: Any, metric: str, epochs: int):
        self.trial, self.metric, self.epochs = trial, metric, epochs
        self.pruned_at: str | None = None

    def epoch_ended(self, record: dict[str, Any]) -> None:
        import optuna

        if self.metric not in record:
            known = ", ".join(k for k in record if k.startswith("val_"))
            raise UsageError(f"The runs record no {self.metric}; their validation metrics: {known}.")
        value, epoch = float(record[self.metric]), int(record["epoch"])
        self.trial.report(value, epoch)
        # After the last epoch the run is complete: pruning it would throw a finished result away.
        if epoch < self.epochs and self.trial.should_prune():
            self.pruned_at = f"pruned after epoch {epoch} of {self.epochs}: {self.metric} {value:.4g}"
            raise optuna.TrialPruned(self.pruned_at)


@dataclasses.dataclass(frozen=True)
class TrialSetup:
    """What every trial of a worker shares."""

    sweep: str
    space: Any  # SearchSpace
    metric: str
    trials: int  # how many finished trials the sweep asks for
    runs_dir: str
    threads: int | None


def run_trial(trial: Any, setup: TrialSetup, train_data: Any) -> float:
    """Train one trial's run; return its final ``setup.metric`` (on the validation split)."""
    from cnnlab.runs.rundir import RunDir
    from cnnlab.training.api import train
    from cnnlab.training.interrupts import TrainingInterrupted

    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    if is_surplus(trial, setup.trials):
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number}: the sweep's {setup.trials} trials are already taken")
    settings = setup.space.suggest(trial)
    run_name = f"{setup.sweep}-trial{trial.number}"
    settings.pop("dataset", None)  # given as the training split itself, without its test set
    settings.update(name=run_name, group=setup.sweep, runs_dir=setup.runs_dir)
    if setup.threads is not None:
        settings.setdefault("threads", setup.threads)
    trial.set_user_attr("run", run_name)
    reporter = PruningReporter(trial, setup.metric, int(settings.get("epochs", 1)))
    try:
        run = train(dataset=train_data, progress=reporter, **settings)
    except TrainingInterrupted:
        raise
    except TrainingError as exc:  # the loss diverged: these settings are bad, the sweep goes on
        trial.set_user_attr("diverged", str(exc))
        raise DivergedTrial(str(exc)) from None
    except BaseException as exc:
        if reporter.pruned_at is not None and _is_pruned(exc):
            mark_pruned(RunDir.find(run_name, setup.runs_dir), reporter.pruned_at)
        raise
    return float(run.final[setup.metric])


def is_surplus(trial: Any, wanted: int) -> bool:
    """Whether ``wanted`` trials numbered before this one are already finished or running."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    before = [t for t in trial.study.get_trials(deepcopy=False, states=states) if t.number < trial.number]
    return len(before) >= wanted


def mark_pruned(run_dir: Any, reason: str) -> None:
    """Record a pruned trial's run as ``pruned`` (the trainer closed it as failed)."""
    from cnnlab.runs.index import RunIndex

    result = run_dir.read_result()
    result.update(status=PRUNED, error=None, pruned=reason)
    run_dir.write_json(run_dir.result_path, result)
    RunIndex(run_dir.root.parent).update(run_dir)


def _is_pruned(exc: BaseException) -> bool:
    import optuna

    return isinstance(exc, optuna.TrialPruned)


__all__ = [
    "PRUNED",
    "DivergedTrial",
    "PruningReporter",
    "SurplusTrial",
    "TrialSetup",
    "is_surplus",
    "run_trial",
]
