"""Optimizers: each builds from the settings and takes a step that matches its update rule."""

from __future__ import annotations

import pytest
import torch

from cnnlab.training import OPTIMIZERS, TrainConfig
from cnnlab.training.muon import orthogonalise
from cnnlab.training.optimizers import build_optimizer


def one_step(**settings) -> tuple[torch.optim.Optimizer, torch.Tensor]:
    """One step from w = 1 with gradient 0.5; return the optimizer and the new weight."""
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = build_optimizer([weight], TrainConfig(**settings), torch.device("cpu"))
    weight.grad = torch.full((3,), 0.5)
    optimizer.step()
    return optimizer, weight.detach()


def test_registry_has_the_documented_optimizers():
    assert OPTIMIZERS.names() == ["adagrad", "adam", "adamw", "muon", "rmsprop", "sgd"]


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


@pytest.mark.parametrize("shape", [(64, 27), (256, 2304), (300, 40)])
def test_newton_schulz_brings_every_singular_value_near_one(shape):
    update = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    result = orthogonalise(update)
    assert result.shape == update.shape and result.dtype == update.dtype
    singular_values = torch.linalg.svdvals(result)
    assert singular_values.min() > 0.5 and singular_values.max() < 1.5  # from 0.6-80 before
    # Same row and column spaces: the result is U S' V^T of the update's own U and V.
    u, _, vh = torch.linalg.svd(update, full_matrices=False)
    s_prime = u.T @ result @ vh.T
    off_diagonal = s_prime - torch.diag(torch.diagonal(s_prime))
    assert off_diagonal.abs().max() < 0.1


def test_muon_orthogonalises_filters_and_steps_the_rest_like_nesterov_sgd():
    torch.manual_seed(0)
    conv, linear = torch.nn.Conv2d(4, 8, 3), torch.nn.Linear(8, 3)
    params = [*conv.parameters(), *linear.parameters()]
    settings = {"optimizer": "muon", "lr": 0.1, "muon_lr": 0.02, "muon_momentum": 0.5}
    optimizer = build_optimizer(params, TrainConfig(**settings, momentum=0.9, weight_decay=0.01), "cpu")
    filters, others = optimizer.param_groups
    assert filters["params"] == [conv.weight] and others["params"] == [conv.bias, *linear.parameters()]
    assert filters["lr_scale"] == pytest.approx(0.2) and others["lr_scale"] == 1.0
    reference = [p.detach().clone().requires_grad_() for p in others["params"]]
    sgd = torch.optim.SGD(reference, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    start = conv.weight.detach().clone()
    for _ in range(3):
        gradients = [torch.randn_like(p) for p in params]
        for p, g in zip(params, gradients, strict=True):
            p.grad = g
        for p, g in zip(reference, gradients[1:], strict=True):
            p.grad = g.clone()
        optimizer.step()
        sgd.step()
    for mine, theirs in zip(others["params"], reference, strict=True):
        torch.testing.assert_close(mine, theirs)
    # Each filter step is 0.02 times a matrix with singular values near 1, after the bank's norm
    # was reset to sqrt(8): three steps stay within 3 * 0.02 * 1.5 in spectral norm of that.
    rescaled = start * (8**0.5 / start.norm())
    moved = torch.linalg.matrix_norm((conv.weight.detach() - rescaled).reshape(8, -1), ord=2)
    assert 0.02 < moved < 3 * 0.02 * 1.5
