"""GoogLeNet (Inception v1). Szegedy et al., "Going deeper with convolutions", CVPR 2015.

Nine Inception modules (Table 1 of the paper): 1x1, 1x1->3x3, 1x1->"5x5" and 3x3-max-pool->1x1
branches side by side, concatenated; the 1x1 reductions keep the cost down. The 224x224 form is
torchvision's, with batch norm after every convolution and exactly its 6,624,904 parameters
without the auxiliary heads. Like torchvision, the "5x5" branch uses a 3x3 kernel (a slip kept in
torchvision for its pretrained weights); ``five_by_five=True`` gives the paper's 5x5 instead.

Auxiliary classifiers (``aux_logits=True``) after inception 4a and 4d run in training only; the
forward pass still returns the main logits and leaves the auxiliary ones in ``model.aux_outputs``
(the paper adds their losses with weight ``model.aux_loss_weight`` = 0.3).

Small inputs (< 64 px), as kuangliu's pytorch-cifar: the stem (7x7/2 conv, max-pool, 1x1 and 3x3
convs, max-pool: 224 -> 28) becomes one 3x3 conv to 192 maps, so the modules see 32x32, 16x16 and
8x8 maps. Initialisation as torchvision: truncated normal (std 0.01) weights, batch norm 1 and 0.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from cnnlab.models.inception_blocks import BasicConv2d, Conv, Pool, build_branches
from cnnlab.models.registry import register, small_input

# Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) for each module; "M" a max-pool.
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "M3": "M",
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128), "M4": "M",
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}  # fmt: skip


def inception(widths: tuple[int, ...], five: int) -> list[list]:
    n1, n3_reduce, n3, n5_reduce, n5, pool_proj = widths
    return [
        [Conv(n1, 1)],
        [Conv(n3_reduce, 1), Conv(n3, 3, padding=1)],
        [Conv(n5_reduce, 1), Conv(n5, five, padding=five // 2)],
        [Pool("max", 3, 1, 1, ceil_mode=True), Conv(pool_proj, 1)],
    ]


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pool, 1x1 conv to 128, FC 2048-1024 with 70% dropout."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


class GoogLeNet(nn.Module):
    aux_loss_weight = 0.3

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        input_size: tuple[int, int],
        aux_logits: bool,
        five_by_five: bool,
        dropout: float,
    ):
        super().__init__()
        if small_input(input_size):  # CIFAR stem: no downsampling before the modules
            self.stem = BasicConv2d(in_channels, 192, 3, padding=1)
        else:
            self.stem = nn.Sequential(
                BasicConv2d(in_channels, 64, 7, stride=2, padding=3),
                nn.MaxPool2d(3, 2, ceil_mode=True),
                BasicConv2d(64, 64, 1),
                BasicConv2d(64, 192, 3, padding=1),
                nn.MaxPool2d(3, 2, ceil_mode=True),
            )  # fmt: skip
        channels, stages = 192, {}
        for name, widths in MODULES.items():
            if widths == "M":
                stages[name] = nn.MaxPool2d(3 if name == "M3" else 2, 2, ceil_mode=True)
                continue
            stages[name] = build_branches(channels, inception(widths, 5 if five_by_five else 3))
            channels = stages[name].out_channels
        self.inception = nn.ModuleDict(stages)
        self.aux = (
            nn.ModuleDict({"4a": InceptionAux(512, num_classes), "4d": InceptionAux(528, num_classes)})
            if aux_logits
            else None
        )
        self.aux_outputs: list[Tensor] = []
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        self.aux_outputs = []
        for name, stage in self.inception.items():
            x = stage(x)
            if self.aux is not None and self.training and name in self.aux:
                self.aux_outputs.append(self.aux[name](x))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


@register(
    "googlenet",
    family="inception",
    paper="Szegedy et al., Going deeper with convolutions",
    year=2015,
    paper_input=(3, 224, 224),
    paper_classes=1000,
)
def googlenet(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    aux_logits: bool = False,
    five_by_five: bool = False,
    dropout: float = 0.2,
) -> GoogLeNet:
    """GoogLeNet / Inception v1 (torchvision's, with batch norm); 3x3 stem under 64 px."""
    return GoogLeNet(num_classes, in_channels, input_size, aux_logits, five_by_five, dropout)
