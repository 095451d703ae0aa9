"""ResNet. He, Zhang, Ren & Sun, "Deep residual learning for image recognition", CVPR 2016.

Each block learns a residual F(x) and outputs relu(F(x) + shortcut(x)); the shortcut is the
identity, or a 1x1 convolution + batch norm where the block changes width or stride (the paper's
option B). ResNet-18/34 stack BasicBlocks (two 3x3 convs), ResNet-50/101/152 Bottlenecks (1x1 down,
3x3, 1x1 up x4) with the stage counts of the paper's Table 1. The 224x224 form is torchvision's
(stride in the bottleneck's 3x3 conv, "v1.5"; same parameter count as the paper's) with exactly
its counts: 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808.

Small inputs (< 64 px), the usual CIFAR form (kuangliu's pytorch-cifar): the stem's 7x7 stride-2
conv and 3x3 stride-2 max-pool, which cut 224 to 56, become one 3x3 stride-1 conv, so a 32x32 image
reaches the four stages at 32x32 (then 16, 8, 4) instead of being shrunk to 8x8 at once.
Initialisation as torchvision: Kaiming-normal (fan-out) convolutions, batch norm 1 and 0.
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.models.registry import register, small_input


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """A conv (no bias) and batch norm, no activation: the block places its ReLUs (the last after the sum)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        self.residual = nn.Sequential(
            conv_bn(in_channels, width, 3, stride), nn.ReLU(inplace=True), conv_bn(width, width, 3)
        )
        self.shortcut = _shortcut(in_channels, width * self.expansion, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


class Bottleneck(BasicBlock):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__(in_channels, width, stride)
        self.residual = nn.Sequential(
            conv_bn(in_channels, width, 1), nn.ReLU(inplace=True),
            conv_bn(width, width, 3, stride), nn.ReLU(inplace=True),
            conv_bn(width, width * self.expansion, 1),
        )  # fmt: skip


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return conv_bn(in_channels, out_channels, 1, stride)  # projection shortcut (option B)


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock],
        stage_blocks: list[int],
        num_classes: int,
        in_channels: int,
        input_size: tuple[int, int],
    ):
        super().__init__()
        if small_input(input_size):  # CIFAR stem: keep the resolution
            self.stem = nn.Sequential(conv_bn(in_channels, 64, 3), nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(
                conv_bn(in_channels, 64, 7, stride=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )  # fmt: skip
        widths, channels, stages = (64, 128, 256, 512), 64, []
        for index, (width, count) in enumerate(zip(widths, stage_blocks, strict=True)):
            stride = 1 if index == 0 else 2
            blocks = []
            for block_index in range(count):
                blocks.append(block(channels, width, stride if block_index == 0 else 1))
                channels = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(self.avgpool(x).flatten(1))


# Table 1 of the paper: blocks per stage.
VARIANTS: dict[int, tuple[type[BasicBlock], list[int]]] = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


def register_variant(
    name: str,
    block: type[BasicBlock],
    stage_blocks: list[int],
    description: str,
    *,
    family: str,
    paper: str,
    year: int,
) -> None:
    """Register a ResNet of ``block``s with ``stage_blocks`` per stage (the ImageNet form at 224 px)."""

    def build(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> ResNet:
        return ResNet(block, stage_blocks, num_classes, in_channels, input_size)

    build.__doc__ = f"{description} ({block.__name__}s {stage_blocks}); 3x3 stem under 64 px."
    imagenet = {"paper_input": (3, 224, 224), "paper_classes": 1000}
    register(name, family=family, paper=paper, year=year, **imagenet)(build)


for _depth, (_block, _stages) in VARIANTS.items():
    register_variant(
        f"resnet{_depth}", _block, _stages, f"ResNet-{_depth}", family="resnet",
        paper="He et al., Deep residual learning for image recognition", year=2016,
    )  # fmt: skip
