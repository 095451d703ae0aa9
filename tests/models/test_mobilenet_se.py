"""MobileNet-V2 and SE-ResNet: the papers' blocks, their CIFAR forms, their exact parameter counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.models import create
from cnnlab.models.mobilenet_v2 import INVERTED_RESIDUALS, InvertedResidual
from cnnlab.models.se_resnet import SqueezeExcitation


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta(name: str, classes: int, shape) -> nn.Module:
    with torch.device("meta"):
        return create(name, classes, shape[0], shape[1:])


def head(classes: int) -> int:
    return 1280 * classes + classes


def test_mobilenet_v2_cifar_form_differs_from_imagenet_only_in_its_head():
    # The stride changes keep every weight; only the classifier shrinks from 1000 classes to 10.
    assert count(meta("mobilenet-v2", 10, (3, 32, 32))) == 3_504_872 - head(1000) + head(10) == 2_236_682


@pytest.mark.parametrize(("side", "final", "stem_stride"), [(32, 4, 1), (224, 7, 2)])
def test_mobilenet_v2_strides_cifar_and_imagenet(side, final, stem_stride):
    model = meta("mobilenet-v2", 10, (3, side, side))
    assert model.features[0][0].stride == (stem_stride, stem_stride)
    assert model.features(torch.zeros(1, 3, side, side, device="meta")).shape == (1, 1280, final, final)


def test_mobilenet_v2_blocks_are_the_papers_table_2():
    model = create("mobilenet-v2", 10, 3, 32)
    blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
    assert len(blocks) == sum(n for _, _, n, _ in INVERTED_RESIDUALS) == 17
    for block in blocks:
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        depthwise = [c for c in convs if c.groups > 1]
        assert (
            len(depthwise) == 1
            and depthwise[0].groups == depthwise[0].in_channels == depthwise[0].out_channels
        )
        assert depthwise[0].weight.shape[1:] == (1, 3, 3)  # one 3x3 filter per channel
        assert isinstance(block.block[-1][-1], nn.BatchNorm2d)  # linear bottleneck: no ReLU at the end
    assert [b.residual for b in blocks].count(True) == 10  # the repeats after each stage's first block
    assert len([c for c in blocks[0].modules() if isinstance(c, nn.Conv2d)]) == 2  # t=1: no expansion
    x = torch.randn(2, 3, 32, 32)
    assert torch.isfinite(model(x)).all()


def test_se_resnets_add_the_papers_squeeze_excitation_parameters():
    def se_params(channels: list[int]) -> int:  # two FCs C -> C/16 -> C, with biases
        return sum(2 * c * (c // 16) + c // 16 + c for c in channels)

    stages50 = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    assert count(meta("se-resnet50", 1000, (3, 224, 224))) == 25_557_032 + se_params(stages50) == 28_088_024
    stages18 = [64] * 2 + [128] * 2 + [256] * 2 + [512] * 2
    assert count(meta("se-resnet18", 10, (3, 32, 32))) == 11_173_962 + se_params(stages18) == 11_263_042


def test_squeeze_excitation_rescales_each_channel_by_a_weight_in_0_1():
    torch.manual_seed(0)
    se = SqueezeExcitation(32)
    x = torch.rand(2, 32, 5, 5) + 0.1
    weights = se(x) / x
    assert torch.allclose(weights, weights[:, :, :1, :1].expand_as(weights))  # one weight a channel
    assert ((weights > 0) & (weights < 1)).all()
    model = create("se-resnet18", 10, 3, 32)
    assert isinstance(model.layer1[0].residual[-1], SqueezeExcitation)
    assert type(model.layer1[0]).__name__ == "SEBasicBlock"
    assert type(meta("se-resnet50", 10, (3, 32, 32)).layer4[2]).__name__ == "SEBottleneck"
