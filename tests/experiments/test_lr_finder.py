"""The learning-rate range test."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnlab.data import BatchLoader, ImageDataset
from cnnlab.errors import ConfigError
from cnnlab.experiments import lr_range_test
from cnnlab.experiments.lr_finder import smooth, steepest_index
from cnnlab.training import TrainConfig


def _separable_dataset(count: int = 256) -> ImageDataset:
    """Two classes told apart by the brightness of the left half of a 1x4x4 image, except for the
    one label in five that is flipped: learnable, and the flipped ones blow up at huge rates."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (count,), generator=generator)
    images = torch.randint(0, 100, (count, 1, 4, 4), generator=generator, dtype=torch.uint8)
    images[:, :, :, :2] += (labels * 150).to(torch.uint8).view(-1, 1, 1, 1)
    flipped = torch.arange(count) % 5 == 0
    labels = torch.where(flipped, 1 - labels, labels)
    return ImageDataset("toy", "train", images, labels, ["dark", "bright"], [0.4], [0.3])


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def test_smoothing_is_bias_corrected():
    assert smooth([2.0, 2.0, 2.0], beta=0.9) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth([1.0, 3.0], beta=0.5) == pytest.approx([1.0, (0.25 * 1 + 0.5 * 3) / 0.75])
    assert math.isnan(smooth([1.0, float("nan"), 1.0])[2])


def test_steepest_point_is_where_the_loss_falls_fastest_before_the_minimum():
    lrs = [10.0**e for e in range(-6, 2)]
    losses = [2.3, 2.3, 2.2, 1.2, 1.0, 0.9, 3.0, 9.0]  # the big drop is from 1e-4 to 1e-3
    assert steepest_index(losses, lrs) in (2, 3)
    assert steepest_index([1.0, 2.0, 3.0], [1e-3, 1e-2, 1e-1]) == 0  # minimum first: nothing before it


def test_range_test_sweeps_geometrically_and_stops_when_the_loss_explodes():
    dataset = _separable_dataset()
    config = TrainConfig(optimizer="sgd", momentum=0.0, batch_size=32)
    loader = BatchLoader(dataset, 32, seed=0)
    model = _model()
    state = torch.get_rng_state()
    result = lr_range_test(model, loader, config, steps=60, start_lr=1e-4, end_lr=1e4, seed=0)
    assert torch.equal(torch.get_rng_state(), state), "the caller's random state is left alone"
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:], strict=False)]
    assert ratios == pytest.approx([ratios[0]] * len(ratios))
    assert result.lrs[0] == pytest.approx(1e-4)
    assert len(result.losses) < 60, "a rate of 1e4 with plain SGD must diverge before the end"
    assert result.suggestion == pytest.approx(result.minimum / 10)
    assert min(result.smoothed) < result.smoothed[0], "the loss falls somewhere in the sweep"
    assert result.steepest <= result.minimum
    assert result.descended


def test_a_sweep_of_useless_rates_reports_no_descent():
    config = TrainConfig(optimizer="sgd", momentum=0.0, batch_size=32)
    dataset = _separable_dataset()
    loader = BatchLoader(dataset, len(dataset), shuffle=False)  # one batch: only the rate changes the loss
    result = lr_range_test(_model(), loader, config, steps=10, start_lr=1e-9, end_lr=1e-8)
    assert not result.descended
    assert len(result.losses) == 10


def test_same_seed_same_sweep_and_bad_arguments_are_refused():
    dataset = _separable_dataset()
    config = TrainConfig(optimizer="adam", batch_size=32)
    runs = [
        lr_range_test(_model(), BatchLoader(dataset, 32, seed=1), config, steps=20, seed=1).losses
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    with pytest.raises(ConfigError):
        lr_range_test(_model(), BatchLoader(dataset, 32), config, steps=3)
    with pytest.raises(ConfigError):
        lr_range_test(_model(), BatchLoader(dataset, 32), config, rule="median")
