"""The benchmarks live beside the package (``benchmarks/``), not in it: make them importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from benchmarks.measure import synthetic_dataset  # noqa: E402


@pytest.fixture
def digits():
    """256 synthetic 1x28x28 images in 10 classes."""
    return synthetic_dataset((1, 28, 28), 256)
