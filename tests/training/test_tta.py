"""Test-time augmentation: the views, their weights, and what it refuses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.training.tta import TestTimeAugmented, shift, with_tta


class _Probe(nn.Module):
    """A linear read-out of the pixels: averaging its outputs is averaging its views."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_shift_moves_the_image_and_repeats_the_border():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    moved = shift(x, 1, 1)
    assert torch.equal(moved[..., 1:, 1:], x[..., :-1, :-1])
    assert torch.equal(moved[..., 0, 1:], x[..., 0, :-1])  # the top row repeats
    assert torch.equal(shift(x, -1, -1)[..., :-1, :-1], x[..., 1:, 1:])


def test_flip_averages_the_image_and_its_mirror():
    model, x = _Probe(), torch.randn(5, 2, 4, 4)
    expected = 0.5 * (model(x) + model(x.flip(-1)))
    torch.testing.assert_close(TestTimeAugmented(model, "flip")(x), expected)


def test_flip_shift_weights_sum_to_one_and_unshifted_views_count_half():
    model, x = _Probe(), torch.randn(3, 2, 4, 4)
    shifted = [shift(v, d, d) for v in (x, x.flip(-1)) for d in (-1, 1)]
    expected = 0.25 * (model(x) + model(x.flip(-1))) + 0.125 * sum(model(v) for v in shifted)
    torch.testing.assert_close(TestTimeAugmented(model, "flip-shift")(x), expected)
    constant = torch.ones(3, 2, 4, 4)  # every view of a constant image is the same image
    torch.testing.assert_close(TestTimeAugmented(model, "flip-shift")(constant), model(constant))


def test_none_returns_the_model_itself_and_the_wrapper_owns_no_weights():
    model = _Probe()
    assert with_tta(model, "none") is model
    wrapped = with_tta(model, "flip")
    assert wrapped.state_dict().keys() == {f"model.{k}" for k in model.state_dict()}
    assert wrapped.input_scale == "standardized"


def test_unknown_mode_and_non_classifiers_are_refused():
    with pytest.raises(ConfigError, match="flip-shift"):
        with_tta(_Probe(), "rotate")

    class WithObjective(_Probe):
        def objective(self, x):
            return {"loss": x.sum()}

    with pytest.raises(ConfigError, match="classifiers"):
        TestTimeAugmented(WithObjective(), "flip")
