"""NotebookReporter: one display updated in place (bar, epoch table, notes) and a live curve."""

from __future__ import annotations

import pytest

from cnnlab.training.notebook_progress import NotebookReporter
from cnnlab.training.progress import RunStart


class FakeHandle:
    def __init__(self, bundle):
        self.bundles = [bundle]

    def update(self, bundle, raw=False):
        assert raw
        self.bundles.append(bundle)


@pytest.fixture
def reporter(monkeypatch):
    handles = []

    def display(bundle):
        handles.append(FakeHandle(bundle))
        return handles[-1]

    monkeypatch.setattr(NotebookReporter, "_display", staticmethod(display))
    reporter = NotebookReporter(refresh_s=0.0, curve_refresh_s=3600)
    reporter.handles = handles
    return reporter


def test_a_run_updates_one_display_and_one_curve(reporter):
    start = RunStart("runs/x", "lenet5", "mnist", 100, 0, 50, 2, "cpu")
    reporter.run_started(start)
    for epoch in range(2):
        reporter.epoch_started(epoch, 2, 4, 0)
        for _ in range(4):
            reporter.step(25, {"loss": 0.5, "accuracy": 0.8})
        reporter.epoch_ended({"epoch": epoch + 1, "step": 4 * (epoch + 1), "lr": 0.1, "train_loss": 0.5,
                              "test_accuracy": 0.9, "time_s": 1.0, "images_per_s": 100.0})  # fmt: skip
    reporter.note("careful")
    reporter.run_ended({"status": "finished", "duration_s": 2.0, "final": {"test_accuracy": 0.9}})
    progress, curve = reporter.handles
    during = progress.bundles[3]["text/html"]
    assert "Epoch 1/2" in during and "4 s left" not in during
    assert "loss 0.5" in progress.bundles[3]["text/plain"]
    last = progress.bundles[-1]
    assert "Finished in 2.0 s: test_accuracy 90.00%" in last["text/plain"]
    assert "careful" in last["text/html"] and last["text/html"].count("<tr>") == 3  # header + 2 epochs
    assert "Epoch" not in last["text/plain"].splitlines()[-1]  # the bar is gone at the end
    # The curve: its placeholder, the first step's draw, then one redraw an epoch (steps are throttled).
    assert len(curve.bundles) == 4 and "data:image/png;base64," in curve.bundles[-1]["text/html"]


def test_updates_are_throttled(monkeypatch):
    shown = []
    monkeypatch.setattr(
        NotebookReporter, "_display", staticmethod(lambda b: shown.append(FakeHandle(b)) or shown[-1])
    )
    reporter = NotebookReporter(curve=False, refresh_s=3600)
    reporter.run_started(RunStart("r", "m", "d", 10, 0, 0, 1, "cpu"))
    reporter.epoch_started(0, 1, 100, 0)
    for _ in range(100):
        reporter.step(1, None)
    assert len(shown) == 1 and len(shown[0].bundles) == 2  # the first draw, then the epoch's start


def test_each_run_of_a_seed_study_gets_its_own_display(reporter):
    for seed in range(2):
        reporter.run_started(RunStart(f"runs/s{seed}", "m", "d", 10, 0, 0, 1, "cpu"))
        reporter.epoch_started(0, 1, 1, 0)
        reporter.step(10, None)
        reporter.epoch_ended({"epoch": 1, "train_loss": 1.0 + seed, "time_s": 1.0})
        reporter.run_ended({"status": "finished", "duration_s": float(seed)})
    first, _, second, _ = reporter.handles
    assert "Finished in 0.0 s" in first.bundles[-1]["text/plain"]
    last = second.bundles[-1]["text/plain"]
    assert "Finished in 1.0 s" in last and "Finished in 0.0 s" not in last and "runs/s1" in last
