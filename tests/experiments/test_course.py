"""Course numbers against our seeds: the prediction interval and its verdict."""

from __future__ import annotations

import math

import pytest

from cnnlab.experiments import Reference, check_reference, prediction_interval
from cnnlab.runs.stats import summarize

T_975_DF2 = 4.302652729911275  # Student t quantile, 97.5%, 2 degrees of freedom


def test_prediction_interval_matches_the_formula():
    summary = summarize([0.60, 0.62, 0.64])
    interval = prediction_interval(summary)
    half = T_975_DF2 * 0.02 * math.sqrt(1 + 1 / 3)
    assert interval.low == pytest.approx(0.62 - half, abs=1e-9)
    assert interval.high == pytest.approx(0.62 + half, abs=1e-9)
    assert prediction_interval(summarize([0.5])) is None


def test_a_course_number_inside_the_interval_is_within_seed_noise():
    check = check_reference(Reference("cell", 0.64), [0.61, 0.62, 0.63, 0.62, 0.62])
    assert check.within_noise is True
    assert check.difference == pytest.approx(-0.02)
    assert check.verdict().startswith("within seed noise: ours -2.00 points")


def test_a_course_number_far_outside_is_more_than_seed_noise():
    check = check_reference(Reference("cell", 0.96), [0.600, 0.601, 0.602, 0.599, 0.600])
    assert check.within_noise is False
    assert "more than seed noise" in check.verdict()
    assert check.to_dict()["within_seed_noise"] is False


def test_one_seed_cannot_tell_and_the_interval_is_clipped_for_accuracies():
    single = check_reference(Reference("cell", 0.9), [0.8])
    assert single.within_noise is None
    assert "--seeds" in single.verdict()
    wide = check_reference(Reference("cell", 0.9), [0.5, 0.99])  # t(1 df) = 12.7: a huge interval
    assert "lands in 0.00 to 100.00 with 95% probability" in wide.verdict()
    assert "only 2 seeds" in wide.verdict()


def test_a_non_accuracy_metric_is_not_shown_in_points():
    check = check_reference(Reference("vae", 98.28, metric="test_loss"), [100.0, 101.0, 99.0])
    assert "points" not in check.verdict()
    assert "ours +1.72" in check.verdict()


def test_a_range_is_within_seed_noise_when_the_interval_overlaps_it():
    """ "64 %" printed with %d is 64.00-64.99%: the difference is from its middle."""
    values = [0.625, 0.630, 0.635, 0.630, 0.630]
    check = check_reference(Reference("cell", 0.64, upper=0.6499), values)
    assert check.difference == pytest.approx(0.63 - 0.64495)
    assert check.to_dict()["course_upper"] == 0.6499
    top = check.interval.high
    straddling = check_reference(Reference("cell", top - 0.001, upper=top + 0.01), values)
    above = check_reference(Reference("cell", top + 0.001, upper=top + 0.01), values)
    assert straddling.within_noise is True  # only its low end is inside: still within seed noise
    assert above.within_noise is False
