"""benchmarks/data_parallel.py: both sides train the same run; the ratio is theirs (no time asserted)."""

from __future__ import annotations

import os

import pytest

from benchmarks import data_parallel


def test_both_sides_train_the_same_run() -> None:
    if not os.environ.get("CNNLAB_DATA"):
        pytest.skip("the benchmark's ranks read MNIST from $CNNLAB_DATA")
    row = data_parallel.compare(("lenet5", "mnist", 256, 1, 32), rounds=1, device="cpu", workers=2)
    one, many = row["one"], row["many"]
    assert (one["processes"], one["threads_each"]) == (1, 2)
    assert (many["processes"], many["threads_each"]) == (2, 1)
    assert many["test_accuracy"] == one["test_accuracy"]  # the same run, on 1 or 2 processes
    assert row["ratio"] == pytest.approx(many["images_per_s"] / one["images_per_s"])
    assert one["images_per_s"] > 0 and many["images_per_s"] > 0
