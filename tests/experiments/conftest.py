"""Fixtures of the experiment tests: a tiny experiment of our own, quick runs of the real experiments
(each run once per session and shared by its tests), and a fixed training speed for estimates."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cnnlab.experiments import CellSpec, Plan, Reference, Size, experiment, registry, timing

TINY = "tiny-fc"
TINY_SETTINGS = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.5, "batch_size": 64, "epochs": 1}


def _tiny_plan(size: Size) -> Plan:
    settings = size.apply(TINY_SETTINGS)
    return Plan(
        [CellSpec("FC", "fc2layer", "mnist", settings), CellSpec("CNN", "course-cnn", "mnist", settings)]
    )


def _tiny_run(ctx) -> None:
    from cnnlab.experiments.plots import bars_figure

    cells = ctx.train_all()
    ctx.results_table(cells, ["test_accuracy", "test_loss"])
    comparison = ctx.compare("CNN", "FC")
    ctx.figure("accuracy.png", bars_figure(cells, "test_accuracy", "tiny"), "Test accuracy")
    ctx.answer.text(f"CNN minus FC: {comparison.difference * 100:+.2f} points.")


@pytest.fixture
def tiny_experiment(monkeypatch):
    """A two-cell experiment on 256 MNIST images (shipped with cnnlab), registered for one test."""
    monkeypatch.setattr(registry, "_EXPERIMENTS", registry._EXPERIMENTS.copy())
    size = Size(seeds=2, train_images=256, test_images=200)
    experiment(
        TINY, version=1, title="Tiny", question="Does it work?", full=size, quick=size, plan=_tiny_plan,
        references=(Reference("CNN", 0.5, source="made up"),),
    )(_tiny_run)  # fmt: skip
    return registry.get_experiment(TINY)


@pytest.fixture
def fixed_speed(monkeypatch):
    """Every model trains 1,000 images a second: estimates that do not depend on recorded reports."""
    monkeypatch.setattr(timing, "known_speed", lambda item, *args, **kwargs: 1000.0)
    return 1000.0


@dataclass
class Finished:
    """A finished experiment directory, read back."""

    dir: Path
    results: dict[str, Any]
    report: str

    def table_rows(self, label: str, after: str = "## Results") -> list[str]:
        """The table rows of ``label`` after the text ``after``."""
        text = self.report[self.report.index(after) :]
        return re.findall(rf"^\| {re.escape(label)} \|.*$", text, flags=re.MULTILINE)

    def table_row(self, label: str, after: str = "## Results") -> str:
        """The first table row of ``label`` after the text ``after``."""
        rows = self.table_rows(label, after)
        assert rows, f"no table row for {label!r} after {after!r}"
        return rows[0]


def read_finished(directory: Path) -> Finished:
    return Finished(
        directory,
        json.loads((directory / "results.json").read_text(encoding="utf-8")),
        (directory / "report.md").read_text(encoding="utf-8"),
    )


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """``quick_run(name, data_dir)``: ``cnnlab experiment NAME --quick`` once per session."""
    from cnnlab.cli import main

    done: dict[str, Finished] = {}

    def run(name: str, data_dir: Path | None = None) -> Finished:
        if name not in done:
            out = tmp_path_factory.mktemp(name) / "experiment"
            argv = ["experiment", name, "--quick", "--quiet", "--out", str(out), "--threads", "2"]
            if data_dir is not None:
                argv += ["--data-dir", str(data_dir)]
            assert main(argv) == 0
            done[name] = read_finished(out)
        return done[name]

    return run
