"""Losses: each equals its textbook formula on a small hand-made batch."""

from __future__ import annotations

import math

import pytest
import torch

from cnnlab.training import LOSSES, TrainConfig
from cnnlab.training.losses import build_loss

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
TARGETS = torch.tensor([0, 2])


def cross_entropy_by_hand(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(len(targets)), targets].mean()


def loss(name, **settings):
    return float(build_loss(TrainConfig(loss=name, **settings))(LOGITS, TARGETS))


def test_registry_has_the_documented_losses():
    assert LOSSES.names() == ["cross-entropy", "focal", "mse", "nll"]


def test_cross_entropy_and_nll_agree_with_the_formula():
    expected = float(cross_entropy_by_hand(LOGITS, TARGETS))
    assert loss("cross-entropy") == pytest.approx(expected)
    assert loss("nll") == pytest.approx(expected)


def test_label_smoothing_mixes_in_the_uniform_target():
    eps, classes = 0.1, 3
    log_probs = LOGITS - torch.logsumexp(LOGITS, dim=1, keepdim=True)
    target = torch.full_like(LOGITS, eps / classes)
    target[torch.arange(2), TARGETS] += 1 - eps
    expected = float(-(target * log_probs).sum(1).mean())
    assert loss("cross-entropy", label_smoothing=eps) == pytest.approx(expected)


def test_mse_compares_softmax_with_one_hot():
    probabilities = torch.softmax(LOGITS, dim=1)
    one_hot = torch.nn.functional.one_hot(TARGETS, 3).float()
    assert loss("mse") == pytest.approx(float(((probabilities - one_hot) ** 2).mean()))


def test_focal_down_weights_easy_examples():
    assert loss("focal", focal_gamma=0.0) == pytest.approx(loss("cross-entropy"))
    probabilities = torch.softmax(LOGITS, dim=1)[torch.arange(2), TARGETS]
    expected = float((-((1 - probabilities) ** 2) * torch.log(probabilities)).mean())
    assert loss("focal", focal_gamma=2.0) == pytest.approx(expected)
    assert loss("focal", focal_gamma=2.0) < loss("cross-entropy")
    assert math.isfinite(loss("focal", focal_gamma=5.0))
