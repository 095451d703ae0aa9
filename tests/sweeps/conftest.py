"""Fixtures for the sweep tests: tiny trials on the shipped MNIST, and the PostgreSQL server."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

POSTGRES_ENV = "CNNLAB_TEST_POSTGRES"
# Where .ci/postgres.sh starts the server; tried when the variable is unset.
LOCAL_POSTGRES = "postgresql://cnnlab:cnnlab@127.0.0.1:5432/cnnlab_test"


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, Any]:
    """Fixed settings of a trial that trains a second or two: LeNet-5 on 240 MNIST images."""
    return {
        "model": "lenet5",
        "dataset": "mnist",
        "subset": 240,
        "test_subset": 100,
        "val_split": 0.25,
        "batch_size": 16,
        "epochs": 1,
        "log_every": 5,
        "curves": False,
        "runs_dir": str(tmp_path / "runs"),
    }


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url() -> str:
    """The test server's URL ($CNNLAB_TEST_POSTGRES, which CI sets); skip only where it is unset
    and no server answers on the local default."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if _reachable(LOCAL_POSTGRES):
        return LOCAL_POSTGRES
    pytest.skip(f"no PostgreSQL: {POSTGRES_ENV} is unset and nothing answers at {LOCAL_POSTGRES}")


@pytest.fixture
def fresh_name() -> str:
    """A study name no earlier test run used (PostgreSQL keeps its studies between runs)."""
    return f"t{uuid.uuid4().hex[:10]}"
