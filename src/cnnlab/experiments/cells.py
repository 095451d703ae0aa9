"""A trained cell: one configuration over several seeds, with its per-seed numbers and their summary.

The statistics (mean, sample std, Student-t interval) are those of :mod:`cnnlab.runs.stats`; a cell
only keeps the per-seed values they are computed from, so ``results.json`` holds both and anyone
can recompute the report's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cnnlab.runs.stats import Summary, summarize

# Accuracy on the training images in evaluation mode (no dropout, no augmentation), measured after
# training: the trainer's train_accuracy is a running mean with dropout and augmentation on, which
# understates how well the network fits its training images.
TRAIN_EVAL_ACCURACY = "train_eval_accuracy"


@dataclass
class Cell:
    label: str
    model: str
    dataset: str
    settings: dict[str, Any]  # the TrainConfig fields the experiment set (not the defaults)
    parameters: int  # trainable parameters of the model as trained
    seeds: list[int]
    runs: list[str]  # run directories, relative to the experiment directory
    finals: list[dict[str, Any]]  # each seed's metrics after its last epoch
    histories: list[list[dict[str, Any]]]  # each seed's per-epoch records
    time_s: float  # training time of all seeds together
    train_images: int
    test_images: int

    def values(self, metric: str) -> list[float]:
        """``metric`` after the last epoch, one value a seed."""
        return [float(final[metric]) for final in self.finals]

    def summary(self, metric: str) -> Summary:
        return summarize(self.values(metric))

    def metrics(self) -> list[str]:
        """The numeric final metrics every seed has, in the order the trainer wrote them."""
        from cnnlab.training.seed_study import NOT_METRICS  # imports torch: not at listing time

        first = self.finals[0] if self.finals else {}
        return [
            key
            for key in first
            if key not in NOT_METRICS and all(isinstance(f.get(key), int | float) for f in self.finals)
        ]

    def curve(self, metric: str) -> tuple[list[int], list[float], list[float]]:
        """Epochs where every seed has ``metric``, the mean over seeds there, the std (0 for one seed)."""
        epochs = sorted(
            set.intersection(*({r["epoch"] for r in h if metric in r} for h in self.histories))
            if self.histories
            else set()
        )
        means, stds = [], []
        for epoch in epochs:
            values = [r[metric] for h in self.histories for r in h if r["epoch"] == epoch]
            summary = summarize(values)
            means.append(summary.mean)
            stds.append(summary.std or 0.0)
        return epochs, means, stds

    def gap(self, train: str = TRAIN_EVAL_ACCURACY, test: str = "test_accuracy") -> list[float]:
        """Per seed: ``train`` minus ``test`` after the last epoch (the overfitting gap)."""
        return [f[train] - f[test] for f in self.finals]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "model": self.model,
            "dataset": self.dataset,
            "settings": self.settings,
            "parameters": self.parameters,
            "seeds": self.seeds,
            "runs": self.runs,
            "train_images": self.train_images,
            "test_images": self.test_images,
            "time_s": round(self.time_s, 3),
            "per_seed": {metric: self.values(metric) for metric in self.metrics()},
            "summary": {metric: _finite(self.summary(metric).to_dict()) for metric in self.metrics()},
            "history": self.histories,
        }


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no inf or NaN: write them as None."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}
