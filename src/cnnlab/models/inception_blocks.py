"""Inception modules as data: parallel branches whose outputs are concatenated along channels.

GoogLeNet (Inception v1) and Inception v3 describe each module as a list of branches, each branch
a list of layers, the way the papers draw them::

    [[Conv(64, 1)], [Conv(48, 1), Conv(64, 5, padding=2)], [AVG_POOL, Conv(32, 1)]]

:func:`build_branches` turns that into a :class:`Branches` module. Every convolution is a
``BasicConv2d`` (conv without bias, batch norm with eps 0.001, ReLU), as in torchvision.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

Size = int | tuple[int, int]


@dataclass(frozen=True)
class Conv:
    out_channels: int
    kernel_size: Size
    stride: int = 1
    padding: Size = 0


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    kernel_size: int = 3
    stride: int = 1
    padding: int = 1
    ceil_mode: bool = False

    def build(self) -> nn.Module:
        if self.kind == "max":
            return nn.MaxPool2d(self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)
        return nn.AvgPool2d(self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)


@dataclass(frozen=True)
class Split:
    """A branch that forks again (Inception v3's "expanded filter bank": 1x3 and 3x1 side by side)."""

    branches: tuple[tuple, ...]


AVG_POOL = Pool("avg")  # 3x3 stride-1 average pool: the "pool" branch, size kept
MAX_POOL_DOWN = Pool("max", 3, 2, 0)  # 3x3 stride-2 max-pool: the grid-reduction branch


class BasicConv2d(nn.Sequential):
    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Size, stride: int = 1, padding: Size = 0
    ):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)


class Branches(nn.ModuleList):
    """Runs every branch on the same input and concatenates their outputs along channels."""

    def __init__(self, branches: list[nn.Module], out_channels: int):
        super().__init__(branches)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self], dim=1)


def build_branches(in_channels: int, spec) -> Branches:
    """A :class:`Branches` module from a list of branches, each a list of Conv / Pool / Split."""
    branches, out_channels = [], 0
    for branch_spec in spec:
        layers, channels = [], in_channels
        for layer in branch_spec:
            if isinstance(layer, Conv):
                layers.append(BasicConv2d(channels, *_conv_arguments(layer)))
                channels = layer.out_channels
            elif isinstance(layer, Pool):
                layers.append(layer.build())
            else:
                layers.append(build_branches(channels, layer.branches))
                channels = layers[-1].out_channels
        branches.append(nn.Sequential(*layers))
        out_channels += channels
    return Branches(branches, out_channels)


def _conv_arguments(layer: Conv) -> tuple:
    return layer.out_channels, layer.kernel_size, layer.stride, layer.padding
