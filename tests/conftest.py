"""Shared test fixtures.

Real data comes from ``$CNNLAB_DATA`` (CI sets it to ``../shared/data``); tests that need a dataset
other than the shipped MNIST skip with a clear reason where it is absent.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnlab.training.progress import Reporter


def shared_data_dir() -> Path | None:
    value = os.environ.get("CNNLAB_DATA")
    if value and Path(value).is_dir():
        return Path(value)
    guess = Path(__file__).resolve().parents[2] / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture
def data_dir() -> Path:
    """The real data directory (``$CNNLAB_DATA`` or ../shared/data); skip when there is none."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("no real data directory: set CNNLAB_DATA to a folder laid out like ../shared/data")
    return path


@pytest.fixture
def cifar10_dir(data_dir: Path) -> Path:
    if not (data_dir / "cifar10").is_dir():
        pytest.skip(f"CIFAR-10 is not in {data_dir}")
    return data_dir


# -- a tiny training run, and one stopped by Ctrl-C (training and fault tests) ------------------
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


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory):
    """One user cache for the whole test session, so tests never touch ~/.cache and the decoded
    datasets are cached once. Tests of the cache itself use their own folder."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each test writes its runs into its own folder."""
    monkeypatch.setenv("CNNLAB_RUNS", str(tmp_path / "runs"))


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread per test: the models here are small, and on two cores shared with other
    jobs two threads fighting over them made forward passes and SVDs 10-20x slower (measured).
    Tests that need another count (the trainer sets its own) restore this one afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
