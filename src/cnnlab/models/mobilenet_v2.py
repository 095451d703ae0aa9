"""MobileNet-V2. Sandler, Howard, Zhu, Zhmoginov & Chen, "MobileNetV2: Inverted residuals and linear
bottlenecks", CVPR 2018.

Why it is cheap: a depthwise separable convolution splits a k x k convolution from C to C' channels
(k*k*C*C' weights, as many multiply-adds per output pixel) into a depthwise k x k convolution, one
filter per channel (``groups=C``: k*k*C), and a pointwise 1x1 convolution that mixes the channels
(C*C'): a fraction 1/C' + 1/k^2 of the cost, about 8 to 9 times less for 3x3 kernels. The inverted
residual block (Fig. 3b) widens first, filters in the wide space, and narrows again: a 1x1 expansion
to t times the width + ReLU6, the 3x3 depthwise conv (with the block's stride) + ReLU6, then a
*linear* 1x1 projection back to the narrow bottleneck (no ReLU there: section 3.2, a ReLU in a
low-dimensional space destroys information); an identity shortcut joins the narrow ends where stride
and width are unchanged. ``cnnlab explain mobilenet-v2`` shows each depthwise conv's groups and its
small share of parameters and MACs beside the 1x1 convs.

The 224x224 form is the paper's Table 2 (and torchvision's ``mobilenet_v2``): 3,504,872 parameters.
Small inputs (< 64 px), the CIFAR form of kuangliu's pytorch-cifar: the stem conv and the second
stage keep stride 1, so a 32x32 image reaches the last stages at 4x4 instead of 1x1 (2,236,682
parameters for 10 classes). kuangliu's own file counts 2,296,922: it also gives the t=1 block a 1x1
expansion and stride-1 blocks that change width a projection shortcut, which the paper's block has
not; cnnlab keeps the paper's block. Initialisation as torchvision: Kaiming-normal (fan-out) convs,
batch norm 1 and 0, the classifier normal(0, 0.01).
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.models.registry import register, small_input

# Table 2: expansion t, output channels c, repeats n, stride s of the first repeat.
INVERTED_RESIDUALS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                      (6, 160, 3, 2), (6, 320, 1, 1)]  # fmt: skip
STEM_CHANNELS, LAST_CHANNELS, DROPOUT = 32, 1280, 0.2


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
            relu6: bool = True) -> nn.Sequential:  # fmt: skip
    """Conv (no bias) + batch norm (+ ReLU6); ``groups=in_channels`` makes it depthwise."""
    padding = kernel_size // 2
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if relu6 else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        expand = [conv_bn(in_channels, hidden, 1)] if expansion != 1 else []  # t=1: nothing to widen
        self.block = nn.Sequential(
            *expand,
            conv_bn(hidden, hidden, 3, stride, groups=hidden),  # depthwise: one 3x3 filter per channel
            conv_bn(hidden, out_channels, 1, relu6=False),  # linear bottleneck
        )
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, input_size: tuple[int, int]):
        super().__init__()
        cifar = small_input(input_size)
        layers = [conv_bn(in_channels, STEM_CHANNELS, 3, stride=1 if cifar else 2)]
        channels = STEM_CHANNELS
        for stage, (expansion, width, repeats, stride) in enumerate(INVERTED_RESIDUALS):
            stride = 1 if cifar and stage == 1 else stride  # CIFAR: keep 32x32 one stage longer
            for index in range(repeats):
                layers.append(InvertedResidual(channels, width, stride if index == 0 else 1, expansion))
                channels = width
        layers.append(conv_bn(channels, LAST_CHANNELS, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(DROPOUT), nn.Linear(LAST_CHANNELS, num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register(
    "mobilenet-v2",
    family="mobilenet",
    paper="Sandler et al., MobileNetV2: Inverted residuals and linear bottlenecks",
    year=2018,
    paper_input=(3, 224, 224),
    paper_classes=1000,
)
def mobilenet_v2(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> MobileNetV2:
    """MobileNet-V2 (inverted residuals, depthwise separable convs); stride-1 stem under 64 px."""
    return MobileNetV2(num_classes, in_channels, input_size)
