"""The pieces of the experiments that compute numbers of their own: dropout's worked example, the
calibration error of the losses experiment, seed-noise's sample-size answer, fc-vs-cnn's parameter split."""

from __future__ import annotations

import pytest
import torch

from cnnlab.experiments.catalog.dropout import SmallAlexNet, worked_example
from cnnlab.experiments.catalog.fc_vs_cnn import parameter_split
from cnnlab.experiments.catalog.losses import expected_calibration_error
from cnnlab.experiments.catalog.seed_noise import pair_share, seeds_to_resolve
from cnnlab.runs.stats import t_quantile


def test_inverted_dropout_by_hand_and_by_pytorch():
    example = worked_example((1.0, 2.0, 3.0, 4.0), (1, 0, 0, 1), 0.5)
    assert example["train_output"] == [2.0, 0.0, 0.0, 8.0]
    assert example["expectation"] == pytest.approx([1.0, 2.0, 3.0, 4.0], abs=1e-12)
    assert example["torch_eval_output"] == [1.0, 2.0, 3.0, 4.0]
    for value, kept in zip([1.0, 2.0, 3.0, 4.0], example["torch_train_output"], strict=True):
        assert kept in (0.0, pytest.approx(2 * value))
    quarter = worked_example((4.0,), (1,), 0.25)
    assert quarter["train_output"] == pytest.approx([16 / 3])
    assert quarter["expectation"] == pytest.approx([4.0])


def test_small_alexnet_has_alexnets_classifier_with_the_given_dropout():
    model = SmallAlexNet(0.25)
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert [d.p for d in dropouts] == [0.25, 0.25]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_calibration_error_of_known_cases():
    labels = torch.tensor([0, 1, 0, 1])
    certain = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # always sure, half right
    assert expected_calibration_error(certain, labels) == pytest.approx(0.5)
    honest = torch.tensor([[0.5, 0.5]] * 4)  # 50% sure, right on 2 of 4 (ties pick class 0)
    assert expected_calibration_error(honest, labels) == pytest.approx(0.0)


def test_seeds_needed_to_resolve_a_difference():
    n = seeds_to_resolve(0.01, 0.01)
    half = lambda k: t_quantile(0.975, k - 1) * 0.01 * (2 / k) ** 0.5  # noqa: E731
    assert half(n) < 0.01 <= half(n - 1)
    assert seeds_to_resolve(0.0, 0.01) == 1
    assert seeds_to_resolve(0.5, 1e-6) is None


def test_share_of_seed_pairs_far_apart():
    assert pair_share([0.60, 0.61, 0.63], 0.02) == pytest.approx(2 / 3)
    assert pair_share([0.6], 0.02) == 0.0


def test_parameter_split_of_the_course_pair():
    fc, cnn = parameter_split("fc2layer"), parameter_split("course-cnn")
    assert (fc["total"], fc["first_linear"], fc["conv"]) == (6442, 784 * 8 + 8, 0)
    assert (cnn["total"], cnn["conv"]) == (6422, (25 + 1) * 6 + (6 * 25 + 1) * 6)
