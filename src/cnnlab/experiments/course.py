"""Is the course's number within seed noise of ours?

The course reports one run per setting: a single draw from the distribution over seeds. Our seeds
estimate that distribution (mean m, sample std s over n runs). If the course's run came from the
same distribution, it lies in the 95% *prediction interval* for one new run,

    m +- t(0.975, n - 1) * s * sqrt(1 + 1/n),

which is wider than the confidence interval of the mean (that one shrinks with n; one run's luck
does not). It is the same question Welch's test asks of two groups, for a group of one whose
spread is taken to be ours. Outside the interval, the difference is more than seed noise: a
different setting, different data (this CIFAR-10 copy is rebuilt from JPEG) or a different
library version. Two groups of our own runs are compared with Welch's test
(:func:`cnnlab.runs.stats.welch_test`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnnlab.experiments.registry import Reference
from cnnlab.experiments.report import is_percent
from cnnlab.runs.stats import CONFIDENCE, Summary, summarize, t_quantile

# Below this many seeds the t quantile is large (12.7 for 2 seeds, 4.3 for 3): the report says so.
FEW_SEEDS = 5


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def overlaps(self, low: float, high: float) -> bool:
        return self.low <= high and low <= self.high


def prediction_interval(summary: Summary, confidence: float = CONFIDENCE) -> Interval | None:
    """Where one more run of the same setting lands with probability ``confidence`` (None: n < 2)."""
    if summary.std is None:
        return None
    half = t_quantile((1 + confidence) / 2, summary.n - 1) * summary.std * math.sqrt(1 + 1 / summary.n)
    return Interval(summary.mean - half, summary.mean + half)


@dataclass(frozen=True)
class CourseCheck:
    """One course number against our runs of the same setting."""

    reference: Reference
    summary: Summary
    interval: Interval | None  # prediction interval for one run

    @property
    def difference(self) -> float:
        """Ours minus the course's (the middle of its range when it printed a truncated number)."""
        return self.summary.mean - self.reference.middle

    @property
    def within_noise(self) -> bool | None:
        """None: too few seeds to tell."""
        if self.interval is None:
            return None
        return self.interval.overlaps(self.reference.value, self.reference.high)

    def verdict(self) -> str:
        """In words, with accuracies in percentage points (the interval clipped to 0-100%)."""
        percent = is_percent(self.reference.metric)
        number = (lambda value: f"{value * 100:.2f}") if percent else (lambda value: f"{value:.4g}")
        difference = (
            f"{'+' if self.difference >= 0 else ''}{number(self.difference)}{' points' if percent else ''}"
        )
        if self.interval is None:
            return f"ours {difference}; one seed cannot tell seed noise apart (run with --seeds 3 or more)"
        low, high = self.interval.low, self.interval.high
        if percent:
            low, high = max(low, 0.0), min(high, 1.0)
        span = f"one run of ours lands in {number(low)} to {number(high)} with 95% probability"
        few = (
            f" (only {self.summary.n} seeds make this interval wide; --seeds {FEW_SEEDS} or more sharpens it)"
            if self.summary.n < FEW_SEEDS
            else ""
        )
        if self.within_noise:
            return f"within seed noise: ours {difference}, and {span}{few}"
        return f"more than seed noise: ours {difference}, while {span}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cell": self.reference.cell,
            "metric": self.reference.metric,
            "course": self.reference.value,
            "course_upper": self.reference.upper,
            "source": self.reference.source,
            "ours": self.summary.to_dict(),
            "difference": self.difference,
            "prediction_interval": None if self.interval is None else [self.interval.low, self.interval.high],
            "within_seed_noise": self.within_noise,
        }


def check_reference(reference: Reference, values: Sequence[float]) -> CourseCheck:
    """Compare ``reference`` with our per-seed ``values`` of its metric."""
    summary = summarize(values)
    return CourseCheck(reference, summary, prediction_interval(summary))
