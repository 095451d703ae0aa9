"""The speed-run network: shape, size, options and the scaled head."""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.models import create, get_info
from cnnlab.models.airbench import Whitening
from cnnlab.models.speedrun import LOGIT_SCALE


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_default_network_on_cifar_shapes_and_size():
    model = create("speedrun")
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # stem 3->32 (864 + 64 BN), group 32->64 + residual pair, 64->128, 128->256 + pair, head 256->10.
    convs = 3 * 9 * 32 + 32 * 9 * 64 + 2 * 64 * 9 * 64 + 64 * 9 * 128 + 128 * 9 * 256 + 2 * 256 * 9 * 256
    batch_norms = 2 * (32 + 64 + 2 * 64 + 128 + 256 + 2 * 256)
    assert count(model) == convs + batch_norms + 256 * 10
    assert get_info("speedrun").family == "speedrun"


def test_widths_and_residual_options_build_an_mnist_net():
    model = create("speedrun", in_channels=1, input_size=28, widths="8,16,32", residual=[False, False, True])
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert [g[0].out_channels for g in model.groups] == [8, 16, 32]
    assert [len(g) for g in model.groups] == [4, 4, 5]  # conv, pool, BN, GELU (+ residual)


def test_patch_stem_reads_4x4_patches_with_stride_2_and_has_no_layer_of_its_own():
    model = create("speedrun", widths="16,32,64", stem="patch")
    assert isinstance(model.stem, torch.nn.Identity)
    first = model.groups[0][0]
    assert (first.in_channels, first.kernel_size, first.stride, first.padding) == (3, (4, 4), (2, 2), (1, 1))
    activations = model.groups[0][:2](torch.zeros(2, 3, 32, 32))
    assert activations.shape == (2, 16, 8, 8)  # conv to 16x16, then the group's pool
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # Gone: the 3x3 stem conv-BN (3->8) and the first group's 3x3 conv (8->16); new: a 4x4 conv (3->16).
    conv_stem = create("speedrun", widths="16,32,64")
    assert count(conv_stem) - count(model) == (3 * 9 * 8 + 2 * 8) + 8 * 9 * 16 - 3 * 16 * 16
    odd = create("speedrun", in_channels=1, input_size=28, widths="8,16,32", stem="patch")
    assert odd(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_logits_are_the_head_scaled_down():
    torch.manual_seed(0)
    model = create("speedrun", widths=[8, 8, 8]).eval()
    x = torch.randn(2, 3, 32, 32)
    features = model.pool(model.groups(model.stem(x))).flatten(1)
    torch.testing.assert_close(model(x), model.head(features) * LOGIT_SCALE)
    assert LOGIT_SCALE == 0.125


def test_whiten_stem_is_airbenchs_fixed_whitening_layer_fitted_to_data():
    torch.manual_seed(0)
    model = create("speedrun", widths="16,32,64", stem="whiten")
    whitening = model.stem[0]
    assert isinstance(whitening, Whitening) and not whitening.weight.requires_grad
    assert model.groups[0][0].in_channels == 24  # 2 signs x 3 channels x 2x2
    x = torch.randn(8, 3, 32, 32)
    assert model(x).shape == (2 * 4, 10)
    before = whitening.weight.clone()
    model.init_from_data(x)
    expected = Whitening(3)
    expected.fit(x)
    assert not torch.equal(before, whitening.weight)
    assert torch.equal(whitening.weight, expected.weight)


@pytest.mark.parametrize("stem", ["conv", "patch"])
def test_init_from_data_leaves_other_stems_alone(stem):
    model = create("speedrun", widths="8,8,8", stem=stem)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_from_data(torch.randn(4, 3, 32, 32))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"widths": "a,b,c"}, "widths"),
        ({"residual": "yes"}, "residual"),
        ({"widths": [8, 16], "residual": [True]}, "one positive width per group"),
        ({"stem": "pixel"}, "stem must be one of conv, patch, whiten"),
    ],
)
def test_bad_options_are_config_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        create("speedrun", **kwargs)
