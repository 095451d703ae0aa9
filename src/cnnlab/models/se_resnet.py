"""Squeeze-and-excitation ResNet. Hu, Shen & Sun, "Squeeze-and-excitation networks", CVPR 2018.

A convolution sees only its kernel's window of the map; an SE block rescales every channel by what
the whole map holds. Squeeze: average each channel of the residual branch over the whole map
(C numbers). Excite: FC C -> C/16 + ReLU, FC C/16 -> C + sigmoid, one weight in (0, 1) per
channel. Scale: multiply each channel of the branch by its weight, then add the shortcut (Fig. 3,
"SE-ResNet module"). The two FC layers are 1x1 convolutions on the pooled 1x1 map here: the same
weights and biases, kept 4-D so the layer table shows their shapes. Everything else is cnnlab's
ResNet (:mod:`cnnlab.models.resnet`), its 3x3 stem under 64 px included.

SE-ResNet-50 has the paper's count, 28.09 M: exactly 28,088,024 parameters (ResNet-50's
25,557,032 plus 2,530,992 in the SE blocks: 10% more parameters for 0.06% more MACs, 4.092 G
against 4.089 G at 224 px, by ``cnnlab explain``; the paper: 3.87 against 3.86 GFLOPs);
SE-ResNet-18 for CIFAR-10 has 11,263,042 (ResNet-18's 11,173,962 plus 89,080).
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.models.resnet import BasicBlock, Bottleneck, register_variant

REDUCTION = 16  # r, the paper's choice (its ablation: a good balance of accuracy and cost)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int = REDUCTION):
        super().__init__()
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excite = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return x * self.excite(self.squeeze(x))


class SqueezeExcited:
    """Mixed into a ResNet block: an SE block at the end of its residual branch, before the sum."""

    expansion: int
    residual: nn.Sequential

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__(in_channels, width, stride)  # the block's own layers
        self.residual.append(SqueezeExcitation(width * self.expansion))


class SEBasicBlock(SqueezeExcited, BasicBlock):
    pass


class SEBottleneck(SqueezeExcited, Bottleneck):
    pass


# ResNet's Table 1 stage counts, with SE blocks.
VARIANTS: dict[int, tuple[type[BasicBlock], list[int]]] = {
    18: (SEBasicBlock, [2, 2, 2, 2]),
    50: (SEBottleneck, [3, 4, 6, 3]),
}


for _depth, (_block, _stages) in VARIANTS.items():
    register_variant(
        f"se-resnet{_depth}", _block, _stages, f"SE-ResNet-{_depth}", family="se-resnet",
        paper="Hu et al., Squeeze-and-excitation networks", year=2018,
    )  # fmt: skip
