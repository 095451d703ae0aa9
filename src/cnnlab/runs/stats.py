"""Seed statistics without scipy: mean, std and Student-t confidence intervals; Welch's t-test.

A single run's accuracy is one draw from the distribution over seeds (initialisation, data order,
augmentation, dropout). Several seeds estimate that distribution; these functions say how precisely
(the confidence interval of the mean) and whether two configurations' means differ by more than
the seed-to-seed noise (Welch's t-test, which does not assume equal variances).

The Student-t distribution comes from the regularised incomplete beta function, evaluated by its
continued fraction (accurate to ~1e-12 here); quantiles by bisection on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

CONFIDENCE = 0.95
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with the sample std and the Student-t CI of the mean (None if n < 2)."""

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float | None:
        return None if self.ci_high is None else self.ci_high - self.mean

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "half_width": self.half_width}

    def __str__(self) -> str:
        if self.std is None:
            return f"{self.mean:.4g} (n=1)"
        return (
            f"{self.mean:.4g} ± {self.std:.2g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}, n={self.n})"
        )


@dataclass(frozen=True)
class WelchTest:
    """Welch's t-test of mean(a) - mean(b)."""

    a: Summary
    b: Summary
    difference: float
    t: float | None
    df: float | None
    p_value: float | None
    ci_low: float | None  # CI of the difference
    ci_high: float | None
    significant: bool | None  # None when there are too few runs to say

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "a": self.a.to_dict(), "b": self.b.to_dict()}

    def verdict(self) -> str:
        if self.significant is None:
            return "too few runs to tell (need >= 2 seeds on each side; use --seeds)"
        if self.significant:
            return f"differ by more than seed noise (p = {self.p_value:.3g} < {SIGNIFICANCE})"
        return f"within seed noise (p = {self.p_value:.3g} >= {SIGNIFICANCE})"


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, sample std (n - 1) and the ``confidence`` Student-t interval of the mean."""
    n = len(values)
    if n == 0:
        raise ValueError("summarize() needs at least one value")
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(n, mean, None, None, None, confidence)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile((1 + confidence) / 2, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, confidence)


def welch_test(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> WelchTest:
    """Do the means of ``a`` and ``b`` differ by more than their spread explains?"""
    sa, sb = summarize(a, confidence), summarize(b, confidence)
    difference = sa.mean - sb.mean
    if sa.std is None or sb.std is None:
        return WelchTest(sa, sb, difference, None, None, None, None, None, None)
    va, vb = sa.std**2 / sa.n, sb.std**2 / sb.n
    if va + vb == 0:
        # Both configurations gave the same number for every seed: any difference is exact.
        same = difference == 0
        p = 1.0 if same else 0.0
        return WelchTest(
            sa,
            sb,
            difference,
            0.0 if same else math.copysign(math.inf, difference),
            math.inf,
            p,
            difference,
            difference,
            not same,
        )
    t = difference / math.sqrt(va + vb)
    # Welch-Satterthwaite degrees of freedom.
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    p = t_two_sided_p(t, df)
    half = t_quantile((1 + confidence) / 2, df) * math.sqrt(va + vb)
    return WelchTest(sa, sb, difference, t, df, p, difference - half, difference + half, p < SIGNIFICANCE)


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return regularized_beta(df / (df + t * t), df / 2, 0.5)


def t_quantile(probability: float, df: float) -> float:
    """The t with P(T <= t) = ``probability`` (0 < probability < 1)."""
    if not 0 < probability < 1:
        raise ValueError("probability must be in (0, 1)")
    if probability < 0.5:
        return -t_quantile(1 - probability, df)
    target = 2 * (1 - probability)  # the two-sided tail beyond the answer
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > target:
        low, high = high, high * 2
    for _ in range(200):  # bisection: the tail falls monotonically in t
        middle = (low + high) / 2
        if t_two_sided_p(middle, df) > target:
            low = middle
        else:
            high = middle
        if high - low <= 1e-13 * high:
            break
    return (low + high) / 2


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    # The continued fraction converges fast for x below the mean of Beta(a, b); use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) above it.
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_continued_fraction(1 - x, b, a) / b


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""
    tiny = 1e-300

    def guard(value: float) -> float:
        return value if abs(value) > tiny else tiny

    c, d = 1.0, 1.0 / guard(1 - (a + b) * x / (a + 1))
    result = d
    for m in range(1, 500):
        # Even then odd term of the fraction.
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 / guard(1 + numerator * d)
            c = guard(1 + numerator / c)
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
