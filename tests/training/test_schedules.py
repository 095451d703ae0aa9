"""Learning-rate schedules: exact values at the steps that define them."""

from __future__ import annotations

import math

import pytest

from cnnlab.training import SCHEDULES, TrainConfig
from cnnlab.training.schedules import build_schedule

STEPS = 10  # steps per epoch in these tests


def lrs(**settings):
    config = TrainConfig(lr=0.1, epochs=settings.pop("epochs", 4), **settings)
    schedule = build_schedule(config, STEPS)
    return [schedule.lr(step) for step in range(schedule.total_steps)]


def test_registry_has_the_documented_schedules():
    assert SCHEDULES.names() == ["constant", "cosine", "linear", "onecycle", "step", "triangle", "warmup"]


def test_constant():
    assert set(lrs(schedule="constant")) == {0.1}


def test_linear_warmup_then_constant():
    values = lrs(schedule="warmup", warmup_epochs=1)
    assert values[:STEPS] == pytest.approx([0.1 * (s + 1) / STEPS for s in range(STEPS)])
    assert set(values[STEPS:]) == {0.1}


def test_step_decay_every_step_size_epochs():
    values = lrs(schedule="step", step_size=2, step_gamma=0.5)
    assert values[0] == values[19] == 0.1
    assert values[20] == values[39] == 0.05


def test_cosine_runs_from_lr_to_almost_zero():
    values = lrs(schedule="cosine")
    assert values[0] == 0.1
    assert values[20] == pytest.approx(0.05)  # half-way
    assert values[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 39 / 40)))
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_cosine_after_warmup_starts_where_warmup_ends():
    values = lrs(schedule="cosine", warmup_epochs=1)
    assert values[STEPS - 1] == pytest.approx(0.1)
    assert values[STEPS] == pytest.approx(0.1)  # cosine step 0 of the remaining 30
    assert values[STEPS + 15] == pytest.approx(0.05)


def test_one_cycle_peaks_at_30_percent_and_ends_near_zero():
    values = lrs(schedule="onecycle")
    peak = values.index(max(values))
    assert peak == 12  # 30% of 40 steps
    assert values[peak] == pytest.approx(0.1)
    assert values[0] == pytest.approx(0.1 / 25)
    assert values[-1] == pytest.approx(0.1 / 25 / 1e4)


def test_triangle_is_airbenchs_straight_lines():
    values = lrs(schedule="triangle")
    assert values[0] == pytest.approx(0.1 * 0.2)
    peak = values.index(max(values))
    assert peak == 9 and values[peak] == pytest.approx(0.1)  # 23% of 40 steps
    assert values[4] == pytest.approx(0.1 * (0.2 + 0.8 * 4 / 9))
    assert values[-1] == pytest.approx(0.1 * 0.07)
    falling = values[peak:]
    steps = [a - b for a, b in zip(falling, falling[1:], strict=False)]
    assert steps == pytest.approx([steps[0]] * len(steps))  # a straight line down


def test_linear_falls_from_lr_in_equal_steps():
    values = lrs(schedule="linear")
    assert values[0] == 0.1 and values[20] == pytest.approx(0.05) and values[-1] == pytest.approx(0.1 / 40)
