"""Time estimates: the arithmetic from a plan, the speed cache, the probe."""

from __future__ import annotations

import pytest

from cnnlab.experiments import estimate, get_experiment, timing
from cnnlab.experiments.registry import CellSpec, Plan
from cnnlab.experiments.timing import (
    EVAL_SPEEDUP,
    OVERHEAD_PER_RUN_S,
    measure_throughput,
    plan_work,
    record_throughput,
)


def test_full_fc_vs_cnn_estimate_from_a_known_speed():
    found = estimate(get_experiment("fc-vs-cnn"), quick=False, seeds=3, measure=lambda item, d, t: 1000.0)
    # 6 cells, each 3 seeds of one epoch over 60,000 images and one evaluation of 10,000.
    per_cell = 3 * 60_000 / 1000 + 3 * 10_000 / (EVAL_SPEEDUP * 1000) + 3 * OVERHEAD_PER_RUN_S
    assert found.seconds == pytest.approx(6 * per_cell)
    assert [row["train_images"] for row in found.rows] == [180_000] * 6
    method = get_experiment("fc-vs-cnn").estimate(quick=False, seeds=3, measure=lambda item, d, t: 1000.0)
    assert method.seconds == pytest.approx(found.seconds)


def test_quick_versions_and_extra_range_test_steps_are_counted():
    optimizers = get_experiment("optimizers")
    items = plan_work(optimizers.plan(optimizers.quick), seeds=1)
    extra = [item for item in items if item.runs == 0]
    assert len(extra) == 6
    assert all(item.train_images == optimizers.quick.range_steps * 128 for item in extra)
    cells = [item for item in items if item.runs == 1]
    assert all(item.train_images == optimizers.quick.train_images for item in cells)


def test_a_recorded_training_speed_replaces_the_probe(monkeypatch):
    spec = CellSpec("x", "fc2layer", "mnist", {"batch_size": 64})
    (item,) = plan_work(Plan([spec]), seeds=1)

    def no_probe(*args):
        raise AssertionError("the cached speed must be used")

    record_throughput(spec, 1234.5, "cpu", 1)
    monkeypatch.setattr(timing, "_time_steps", no_probe)
    assert measure_throughput(item, "cpu", 1) == pytest.approx(1234.5)


def test_the_probe_measures_a_positive_speed_and_caches_it(monkeypatch):
    monkeypatch.setattr(timing, "_load_average", lambda: 0.0)  # a quiet machine
    spec = CellSpec("x", "fc2layer", "mnist", {"batch_size": 16})
    (item,) = plan_work(Plan([spec]), seeds=1)
    speed = measure_throughput(item, "cpu", 1)
    assert speed > 0
    monkeypatch.setattr(timing, "_time_steps", lambda *args: pytest.fail("probed twice"))
    assert measure_throughput(item, "cpu", 1) == pytest.approx(speed, rel=1e-3)


def test_a_probe_taken_on_an_oversubscribed_machine_is_taken_again(monkeypatch):
    spec = CellSpec("x", "fc2layer", "mnist", {"batch_size": 32})
    (item,) = plan_work(Plan([spec]), seeds=1)
    monkeypatch.setattr(timing, "_load_average", lambda: 50.0)  # far more work than cores
    monkeypatch.setattr(timing, "_time_steps", lambda *args: 45.0)
    assert measure_throughput(item, "cpu", 1) == 45.0
    monkeypatch.setattr(timing, "_load_average", lambda: 0.0)
    monkeypatch.setattr(timing, "_time_steps", lambda *args: 9000.0)
    assert measure_throughput(item, "cpu", 1) == 9000.0  # the busy probe was not trusted
    monkeypatch.setattr(timing, "_time_steps", lambda *args: pytest.fail("a quiet probe is kept"))
    assert measure_throughput(item, "cpu", 1) == 9000.0


def test_a_training_runs_speed_is_kept_whatever_the_load(monkeypatch):
    spec = CellSpec("x", "fc2layer", "mnist", {"batch_size": 48})
    (item,) = plan_work(Plan([spec]), seeds=1)
    monkeypatch.setattr(timing, "_load_average", lambda: 50.0)
    record_throughput(spec, 777.0, "cpu", 1)
    monkeypatch.setattr(timing, "_time_steps", lambda *args: pytest.fail("must not probe"))
    assert measure_throughput(item, "cpu", 1) == pytest.approx(777.0)
