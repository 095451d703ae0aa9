"""Inception v3. Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, "Rethinking the Inception architecture
for computer vision", CVPR 2016.

The paper factorises convolutions: a 5x5 into two 3x3s (module A, Fig. 5), an nxn into 1xn then
nx1 (module C, Fig. 6, n = 7 on the 17x17 grid), and widens the last modules with 1x3 and 3x1 side
by side (module E, Fig. 7); modules B and D shrink the grid with stride-2 convolutions and a
max-pool in parallel (Fig. 10) instead of pooling first. The 299x299x3, 1000-class form is
torchvision's, with its auxiliary head (after the 17x17 modules, training only; the main logits
are returned and the auxiliary ones left in ``model.aux_outputs``): exactly 27,161,264 parameters.

Small inputs (< 64 px), the common CIFAR port of all eleven modules (e.g. weiaicunzai's
pytorch-cifar100; not the course's network, which is ``course-inception`` below): the stem keeps
the resolution (its first conv has stride 1 and padding 1, the 3x3 convs are padded, and both stem
max-pools are removed), so a 32x32 image meets the A modules at 30x30, the C modules at 14x14 and
the E modules at 6x6, instead of collapsing below 1x1 (the original stem divides the size by 8).
The auxiliary head is on by default only from 299 px up: its 5x5 stride-3 pool and 5x5 conv need
the 17x17 grid that 299 px gives (at 224 px torchvision's head fails in training). Initialisation
as torchvision: truncated normal (std 0.1; 0.01 and 0.001 in the auxiliary head), batch norm 1 and 0.

``course-inception``: the small Inception v3 of the course's notebook 05_05 ("GoogLeNet" on
CIFAR-10): the paper's first two stem convolutions (3->32 stride 2 unpadded, 32->32 unpadded), then
one module each of A (pool features 32), B, C (c7 = 128), D and E, a 2x2 average pool, dropout 0.5
and the classifier. A 32x32 image goes 32 -> 15 -> 13 (stem) -> 13 (A) -> 6 (B) -> 6 (C) -> 2 (D)
-> 2 (E) -> 1; 9,313,802 parameters for 10 classes (as the notebook counts), against the full
network's 21,806,058 on its stride-1 stem. The notebook draws every conv and linear weight from a
normal of std 0.1 truncated at two standard deviations (scipy's ``truncnorm(-2, 2, scale=0.1)``), and
so does cnnlab.
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.errors import ModelError
from cnnlab.models.inception_blocks import AVG_POOL, MAX_POOL_DOWN, BasicConv2d, Conv, Split, build_branches
from cnnlab.models.registry import register, small_input

SPLIT_1x3_3x1 = Split(((Conv(384, (1, 3), padding=(0, 1)),), (Conv(384, (3, 1), padding=(1, 0)),)))


def conv_1x7(width: int) -> Conv:
    return Conv(width, (1, 7), padding=(0, 3))


def conv_7x1(width: int) -> Conv:
    return Conv(width, (7, 1), padding=(3, 0))


def module_a(pool_features: int) -> list:  # Fig. 5: 5x5 -> two 3x3
    return [
        [Conv(64, 1)],
        [Conv(48, 1), Conv(64, 5, padding=2)],
        [Conv(64, 1), Conv(96, 3, padding=1), Conv(96, 3, padding=1)],
        [AVG_POOL, Conv(pool_features, 1)],
    ]


def module_b() -> list:  # Fig. 10: 35x35 -> 17x17
    return [
        [Conv(384, 3, stride=2)],
        [Conv(64, 1), Conv(96, 3, padding=1), Conv(96, 3, stride=2)],
        [MAX_POOL_DOWN],
    ]


def module_c(c7: int) -> list:  # Fig. 6: 7x7 -> 1x7 then 7x1
    return [
        [Conv(192, 1)],
        [Conv(c7, 1), conv_1x7(c7), conv_7x1(192)],
        [Conv(c7, 1), conv_7x1(c7), conv_1x7(c7), conv_7x1(c7), conv_1x7(192)],
        [AVG_POOL, Conv(192, 1)],
    ]


def module_d() -> list:  # 17x17 -> 8x8
    return [
        [Conv(192, 1), Conv(320, 3, stride=2)],
        [Conv(192, 1), conv_1x7(192), conv_7x1(192), Conv(192, 3, stride=2)],
        [MAX_POOL_DOWN],
    ]


def module_e() -> list:  # Fig. 7: the expanded filter bank
    return [
        [Conv(320, 1)],
        [Conv(384, 1), SPLIT_1x3_3x1],
        [Conv(448, 1), Conv(384, 3, padding=1), SPLIT_1x3_3x1],
        [AVG_POOL, Conv(192, 1)],
    ]


MODULES = {
    "5b": module_a(32), "5c": module_a(64), "5d": module_a(64), "6a": module_b(),
    "6b": module_c(128), "6c": module_c(160), "6d": module_c(160), "6e": module_c(192),
    "7a": module_d(), "7b": module_e(), "7c": module_e(),
}  # fmt: skip
AUX_AFTER = "6e"
AUX_MIN_SIZE = 299  # the smallest input whose 6e grid (17x17) the auxiliary head can take


def stem(in_channels: int, small: bool) -> nn.Sequential:
    if small:  # keep 32x32: stride 1, padded, no max-pools
        return nn.Sequential(
            BasicConv2d(in_channels, 32, 3, padding=1), BasicConv2d(32, 32, 3, padding=1),
            BasicConv2d(32, 64, 3, padding=1), BasicConv2d(64, 80, 1), BasicConv2d(80, 192, 3),
        )  # fmt: skip
    return nn.Sequential(
        BasicConv2d(in_channels, 32, 3, stride=2), BasicConv2d(32, 32, 3), BasicConv2d(32, 64, 3, padding=1),
        nn.MaxPool2d(3, 2), BasicConv2d(64, 80, 1), BasicConv2d(80, 192, 3), nn.MaxPool2d(3, 2),
    )  # fmt: skip


def initialize(model: nn.Module, bound_in_stds: bool = False) -> None:
    """Truncated-normal weights (std 0.1 unless a layer sets ``stddev``), batch norm 1 and 0.

    torchvision truncates at -2 and 2 (absolute, so for std 0.1 hardly at all); the course's
    notebook at two standard deviations (``bound_in_stds``).
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            std = getattr(module, "stddev", 0.1)
            bound = 2 * std if bound_in_stds else 2.0
            nn.init.trunc_normal_(module.weight, mean=0.0, std=std, a=-bound, b=bound)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class InceptionAux(nn.Module):
    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)
        self.conv0 = BasicConv2d(in_channels, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.conv1.conv.stddev = 0.01  # torchvision's initialisation scales
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


class InceptionV3(nn.Module):
    aux_loss_weight = 0.4  # torchvision's reference training recipe

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        input_size: tuple[int, int],
        aux_logits: bool,
        dropout: float,
    ):
        super().__init__()
        self.stem = stem(in_channels, small_input(input_size))
        channels, stages = 192, {}
        for name, spec in MODULES.items():
            stages[name] = build_branches(channels, spec)
            channels = stages[name].out_channels
        self.mixed = nn.ModuleDict(stages)
        self.aux = InceptionAux(768, num_classes) if aux_logits else None
        self.aux_outputs: list[Tensor] = []
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        initialize(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        self.aux_outputs = []
        for name, stage in self.mixed.items():
            x = stage(x)
            if name == AUX_AFTER and self.aux is not None and self.training:
                self.aux_outputs.append(self.aux(x))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


@register(
    "inception-v3",
    family="inception",
    paper="Szegedy et al., Rethinking the Inception architecture",
    year=2016,
    paper_input=(3, 299, 299),
    paper_classes=1000,
)
def inception_v3(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    aux_logits: bool | None = None,
    dropout: float = 0.5,
) -> InceptionV3:
    """Inception v3 (torchvision's); stride-1 stem without max-pools under 64 px (the course's 32x32 port).

    ``aux_logits`` defaults to True from 299 px (as torchvision), False below, where it cannot fit.
    """
    aux = min(input_size) >= AUX_MIN_SIZE if aux_logits is None else aux_logits
    return InceptionV3(num_classes, in_channels, input_size, aux, dropout)


# The course's modules, in order, with their settings (notebook 05_05's Inception3).
COURSE_MODULES = {"A": module_a(32), "B": module_b(), "C": module_c(128), "D": module_d(), "E": module_e()}
COURSE_MIN_SIZE = 19  # the smallest input whose D module still gets a 3x3 map (19 -> 9 -> 7 -> 3 -> 1)


class CourseInception(nn.Module):
    """Stem (two unpadded 3x3 convs, the first of stride 2), modules A-E once each, pool, classifier."""

    def __init__(self, num_classes: int, in_channels: int, input_size: tuple[int, int], dropout: float):
        super().__init__()
        if min(input_size) < COURSE_MIN_SIZE:
            raise ModelError(
                f"course-inception needs images of at least {COURSE_MIN_SIZE}x{COURSE_MIN_SIZE} "
                f"(its stem and two stride-2 modules shrink {min(input_size)} px below 1); got {input_size}."
            )
        self.stem = nn.Sequential(BasicConv2d(in_channels, 32, 3, stride=2), BasicConv2d(32, 32, 3))
        channels, stages = 32, {}
        for name, spec in COURSE_MODULES.items():
            stages[name] = build_branches(channels, spec)
            channels = stages[name].out_channels
        self.mixed = nn.ModuleDict(stages)
        # The notebook's 2x2 average pool takes the 2x2 map of a 32x32 image to 1x1; the adaptive
        # pool does the same there and also fits other sizes.
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        initialize(self, bound_in_stds=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for stage in self.mixed.values():
            x = stage(x)
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


@register(
    "course-inception",
    family="inception",
    paper="course notebook 05_05: a small Inception v3 for CIFAR-10 (Szegedy et al. 2016's modules)",
    year=None,
)
def course_inception(
    num_classes: int, in_channels: int, input_size: tuple[int, int], dropout: float = 0.5
) -> CourseInception:
    """The course's small Inception v3: stem 3->32 (stride 2) and 32->32, one each of modules A-E."""
    return CourseInception(num_classes, in_channels, input_size, dropout)
