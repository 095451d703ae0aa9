"""Shared test fixtures.

Real data comes from ``$CNNLAB_DATA`` (CI sets it to ``../shared/data``); tests that need a dataset
other than the shipped MNIST skip with a clear reason where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


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
