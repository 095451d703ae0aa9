"""airbench's network: size, whitening from data, identity start, the fast batch-norm shift."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError
from cnnlab.models import create, get_info
from cnnlab.models.airbench import SHIFT_SCALE, WHITENING_EPS, ShiftOnlyBatchNorm, patch_covariance_eigens


def test_default_network_has_airbench94s_size():
    model = create("airbench")
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    whiten = 3 * 4 * 24  # fixed filters, no bias
    convs = 24 * 9 * 64 + 64 * 9 * 64 + 64 * 9 * 256 + 256 * 9 * 256 + 256 * 9 * 256 + 256 * 9 * 256
    shifts = 2 * (64 + 256 + 256)
    assert sum(p.numel() for p in model.parameters()) == whiten + convs + shifts + 256 * 10 == 1_971_616
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["whiten.weight"]  # fitted to the data, never trained
    assert get_info("airbench").family == "airbench"


def test_grayscale_28x28_and_narrow_widths():
    model = create("airbench", in_channels=1, input_size=28, widths="8,16,32")
    assert model.whiten.out_channels == 8  # 2 signs x 1 channel x 2x2
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_whitening_filters_decorrelate_the_patches_they_were_fitted_on():
    torch.manual_seed(0)
    # Strongly correlated channels and neighbouring pixels, like natural images.
    base = torch.randn(200, 1, 17, 17)
    smooth = F.avg_pool2d(base, 2, stride=1)
    images = torch.cat([smooth, 0.5 * smooth + 0.1 * torch.randn_like(smooth), -smooth], 1)
    model = create("airbench", widths="8,8,8")
    model.init_from_data(images)
    weight = model.whiten.weight
    half = weight.shape[0] // 2
    torch.testing.assert_close(weight[half:], -weight[:half])
    outputs = F.conv2d(images, weight[:half]).permute(0, 2, 3, 1).reshape(-1, half).double()
    covariance = outputs.T @ outputs / len(outputs)
    # Uncorrelated, each direction's variance lambda / (lambda + eps): 1 for all the data's strong
    # directions, the near-empty ones (noise) damped rather than blown up.
    eigenvalues, _ = patch_covariance_eigens(images, 2)
    expected = (eigenvalues / (eigenvalues + WHITENING_EPS)).double()
    torch.testing.assert_close(covariance, torch.diag(expected), atol=1e-4, rtol=0)
    assert (expected > 0.99).sum() >= 4


def test_each_conv_starts_by_passing_its_input_through():
    model = create("airbench", widths="32,64,64")
    first_conv = model.groups[1][0]
    x = torch.randn(2, first_conv.in_channels, 8, 8)
    torch.testing.assert_close(first_conv(x)[:, : x.shape[1]], x)


def test_the_shift_learns_64_times_as_fast_as_a_plain_batch_norm_bias():
    torch.manual_seed(0)
    x = torch.randn(8, 4, 5, 5)
    plain = torch.nn.BatchNorm2d(4, eps=1e-12)
    fast = ShiftOnlyBatchNorm(4)
    for norm in (plain, fast):
        (norm(x) * torch.arange(4.0).view(1, 4, 1, 1)).sum().backward()
    lr = 0.01
    plain_step = lr * plain.bias.grad
    fast_step = SHIFT_SCALE * (lr * fast.shift.grad)  # the effective bias is SHIFT_SCALE * shift
    torch.testing.assert_close(fast_step, 64 * plain_step)


@pytest.mark.parametrize("widths", ["a,b,c", "8,16"])
def test_bad_widths_are_config_errors(widths):
    with pytest.raises(ConfigError, match="airbench"):
        create("airbench", widths=widths)
