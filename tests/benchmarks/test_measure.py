"""Measuring tools: FLOP counts, per-step clocks of a real cnnlab run, synthetic data."""

from __future__ import annotations

import torch
from benchmarks.measure import StepClock, cnnlab_train, machine, synthetic_dataset, training_flops_per_image
from torch import nn


def test_training_flops_of_linear_layers():
    # Forward 2*in*out per image and layer; backward: the weight gradient of both layers (2*in*out
    # each) and the input gradient of the second only (the input itself needs no gradient).
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Linear(5, 3))
    forward = 2 * 12 * 5 + 2 * 5 * 3
    backward = 2 * 12 * 5 + 2 * 5 * 3 + 2 * 5 * 3
    assert training_flops_per_image(model, (3, 2, 2)) == forward + backward


def test_flop_count_leaves_the_model_untouched():
    model = nn.Linear(4, 2)
    before = model.weight.detach().clone()
    training_flops_per_image(nn.Sequential(nn.Flatten(), model), (4,))
    assert model.weight.device.type == "cpu" and model.weight.grad is None
    assert torch.equal(model.weight, before)


def test_synthetic_dataset_shape_and_repeatability():
    first, second = synthetic_dataset((3, 8, 8), 20), synthetic_dataset((3, 8, 8), 20)
    assert first.images.shape == (20, 3, 8, 8) and first.images.dtype == torch.uint8
    assert first.num_classes == 10 and len(first.mean) == 3
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)


def test_step_clock_records_every_step_of_a_real_run():
    clock = StepClock()
    run = cnnlab_train("fc2layer", synthetic_dataset((1, 28, 28), 96), clock, epochs=2, batch_size=32)
    assert len(clock.step_seconds) == 6  # 3 steps an epoch, 2 epochs
    assert [record["epoch"] for record in clock.epochs] == [1, 2]
    assert clock.epochs[-1]["step"] == 6
    assert run.history[-1]["train_loss"] == clock.epochs[-1]["train_loss"]


def test_machine_names_cores_and_versions():
    info = machine()
    assert info["cores"] >= 1 and info["torch"] == torch.__version__
    assert isinstance(info["isa"], list)
