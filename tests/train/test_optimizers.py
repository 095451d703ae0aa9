"""Optimizers: each builds from the settings and takes a step that matches its update rule."""

from __future__ import annotations

import pytest
import torch

from cnnlab.train import OPTIMIZERS, TrainConfig
from cnnlab.train.optimizers import build_optimizer


def one_step(**settings) -> tuple[torch.optim.Optimizer, torch.Tensor]:
    """One step from w = 1 with gradient 0.5; return the optimizer and the new weight."""
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = build_optimizer([weight], TrainConfig(**settings), torch.device("cpu"))
    weight.grad = torch.full((3,), 0.5)
    optimizer.step()
    return optimizer, weight.detach()


def test_registry_has_the_documented_optimizers():
    assert OPTIMIZERS.names() == ["adagrad", "adam", "adamw", "rmsprop", "sgd"]


def test_sgd_with_momentum_nesterov_and_weight_decay():
    optimizer, weight = one_step(optimizer="sgd", lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1)
    group = optimizer.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["weight_decay"]) == (0.5, True, 0.1)
    # g = 0.5 + 0.1 * 1 = 0.6; buffer = 0.6; Nesterov step uses g + momentum * buffer = 0.9.
    assert torch.allclose(weight, torch.full((3,), 1 - 0.1 * 0.9))


def test_adam_first_step_moves_by_lr():
    optimizer, weight = one_step(optimizer="adam", lr=0.01, betas=(0.8, 0.9))
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.9)
    assert torch.allclose(weight, torch.full((3,), 0.99), atol=1e-6)  # bias-corrected m/sqrt(v) = 1


def test_adamw_decays_the_weights_directly():
    _, weight = one_step(optimizer="adamw", lr=0.01, weight_decay=0.5)
    assert torch.allclose(weight, torch.full((3,), 1 * (1 - 0.01 * 0.5) - 0.01), atol=1e-6)


@pytest.mark.parametrize("name", ["rmsprop", "adagrad"])
def test_adaptive_optimizers_step_against_the_gradient(name):
    optimizer, weight = one_step(optimizer=name, lr=0.01)
    assert type(optimizer).__name__.lower() == name
    assert (weight < 1).all()
