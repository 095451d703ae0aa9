"""Seed statistics against published Student-t values and hand-computed Welch tests."""

from __future__ import annotations

import math

import pytest

from cnnlab.runs.stats import regularized_beta, summarize, t_quantile, t_two_sided_p, welch_test

# 97.5% quantiles of Student's t (standard tables, e.g. NIST/SEMATECH e-Handbook, Table 1.4.2.3.4).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 30: 2.042, 100: 1.984}


@pytest.mark.parametrize(("df", "expected"), sorted(T_975.items()))
def test_t_quantile_matches_the_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_tends_to_the_normal_and_is_symmetric():
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)
    assert t_quantile(0.025, 7) == pytest.approx(-t_quantile(0.975, 7))
    assert t_quantile(0.995, 4) == pytest.approx(4.604, abs=5e-4)


def test_two_sided_p_values():
    assert t_two_sided_p(0.0, 5) == pytest.approx(1.0)
    assert t_two_sided_p(2.228, 10) == pytest.approx(0.05, abs=2e-4)
    assert t_two_sided_p(12.706, 1) == pytest.approx(0.05, abs=1e-4)
    assert t_two_sided_p(math.inf, 3) == 0.0


def test_regularized_beta_known_values():
    assert regularized_beta(0.5, 1, 1) == pytest.approx(0.5)  # uniform
    assert regularized_beta(0.3, 2, 1) == pytest.approx(0.09)  # x^2
    assert regularized_beta(0.3, 1, 3) == pytest.approx(1 - 0.7**3)


def test_summary_of_five_seeds():
    values = [0.981, 0.984, 0.979, 0.983, 0.980]
    summary = summarize(values)
    mean = sum(values) / 5
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    assert summary.mean == pytest.approx(mean)
    assert summary.std == pytest.approx(std)
    half = 2.776445 * std / math.sqrt(5)
    assert (summary.ci_low, summary.ci_high) == (pytest.approx(mean - half), pytest.approx(mean + half))


def test_summary_of_one_run_has_no_interval():
    summary = summarize([0.9])
    assert (summary.n, summary.mean, summary.std, summary.ci_low) == (1, 0.9, None, None)


def test_welch_against_a_hand_computation():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0]
    result = welch_test(a, b)
    va, vb = 2.5 / 5, 4.0 / 3
    t = (3.0 - 4.0) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 2)
    assert result.t == pytest.approx(t)
    assert result.df == pytest.approx(df)
    assert result.p_value == pytest.approx(t_two_sided_p(t, df))
    assert result.significant is False
    assert "within seed noise" in result.verdict()


def test_welch_separates_clearly_different_groups():
    result = welch_test([0.62, 0.63, 0.61, 0.62], [0.64, 0.65, 0.64, 0.66])
    assert result.significant is True and result.p_value < 0.01
    assert result.ci_high < 0  # A is lower
    assert "differ by more than seed noise" in result.verdict()


def test_welch_needs_two_runs_a_side():
    result = welch_test([0.9], [0.8, 0.85])
    assert result.significant is None and result.p_value is None
    assert "too few runs" in result.verdict()


def test_welch_with_no_spread_at_all():
    assert welch_test([1.0, 1.0], [1.0, 1.0]).significant is False
    assert welch_test([1.0, 1.0], [2.0, 2.0]).significant is True
