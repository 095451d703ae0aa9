"""Fixtures for the training tests: a tiny, fast run on the shipped MNIST."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnlab.training import TIMING_KEYS, Reporter


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Any]:
    """Settings of a run that takes about a second: 256 MNIST images, 2 epochs of 8 steps."""
    return {
        "model": "course-cnn",
        "dataset": "mnist",
        "subset": 256,
        "test_subset": 128,
        "batch_size": 32,
        "epochs": 2,
        "lr": 3e-3,
        "log_every": 2,
        "checkpoint_every": 3,
        "threads": 1,
        "curves": False,
        "runs_dir": str(tmp_path / "runs"),
        "progress": False,
    }


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _learning_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


@pytest.fixture
def same_weights():
    """same_weights(a, b): every parameter and buffer equal to the last bit."""
    return _same_weights


@pytest.fixture
def learning_records():
    """learning_records(records): metrics.jsonl records without their wall-clock entries."""
    return _learning_records


class CtrlCAtStep(Reporter):
    """Sends this process a real SIGINT during the given step, as a user's Ctrl-C would."""

    def __init__(self, step: int):
        self.at, self.steps = step, 0

    def step(self, images, stats):
        self.steps += 1
        if self.steps == self.at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def ctrl_c_at_step():
    """``ctrl_c_at_step(n)``: a progress reporter that presses Ctrl-C during step ``n``."""
    return CtrlCAtStep


@pytest.fixture
def interrupted_run():
    """``interrupted_run(settings, n, name)``: train with ``settings`` until Ctrl-C during step ``n``
    (the run must stop as interrupted); return the run directory, ready for ``resume``."""

    def interrupt(settings: dict[str, Any], step: int, name: str = "cut") -> Path:
        import cnnlab
        from cnnlab.training import TrainingInterrupted

        with pytest.raises(TrainingInterrupted):
            cnnlab.train(**{**settings, "progress": CtrlCAtStep(step)}, name=name)
        return Path(settings["runs_dir"]) / name

    return interrupt
