"""A small, fast residual network for CIFAR-10 speed runs, after Page's DAWNBench ResNet-9 (2018)
and Jordan's airbench (2024).

Shape: a 3x3 stem, then three groups. Each group is a 3x3 conv that widens, a 2x2 max-pool, batch
norm and GELU; a group may add a residual pair of conv-BN-GELU layers (``x + f(x)``). A global max
pool and one linear layer without bias finish it, its logits scaled down by ``LOGIT_SCALE``. The
tricks, and why:

- Pool right after the widening conv: the other convolutions then run at a quarter of the pixels.
- Batch-norm momentum 0.4 (PyTorch's convention: the weight of the new batch): a speed run takes
  few steps, and slow running statistics would still remember the first epochs at test time.
- Logits times 1/8: the network's outputs start large (max pooling, no bias), and a softmax fed
  large logits saturates; scaling them down lets the high learning rate work from step one.
- No biases before batch norm (it subtracts the mean anyway).
- GELU, as airbench, rather than ResNet-9's ReLU: ReLU makes a CPU training step faster, but the
  ``cifar10-speedrun`` recipe then ends less accurate (benchmarks/README.md, "Time to 64%").
- ``stem="patch"`` (the ``cifar10-quick`` recipe): no full-resolution stem; the first group's
  widening conv reads overlapping 4x4 patches every 2 pixels (stride 2), like the "patchify" stems
  of ViT and ConvNeXt (Liu et al., 2022) but overlapping. Every later layer then runs at a quarter
  of the pixels: an epoch is several times cheaper than with ``stem="conv"``, for a few points less
  one-epoch accuracy (benchmarks/README.md, "Time to 64%").
- ``stem="whiten"``: airbench's fixed whitening layer (:class:`cnnlab.models.airbench.Whitening`, a
  2x2 conv fitted to the training images' patches before the first step, never trained) and a GELU
  in place of the 3x3 stem. Nothing before the first group learns, so the backward pass stops
  there, and the unpadded 2x2 window leaves 31x31 maps (15, 7, 3 after the pools, not 16, 8, 4):
  an epoch is cheaper, but the run is not more accurate per second (benchmarks/README.md, "Room
  for goal 3").

``speedrun`` (widths 64-128-256, residual in groups 1 and 3) is sized for two CPU cores; the widths
are an option (``--model-arg widths=32,64,128``). See benchmarks/README.md for its numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from cnnlab.errors import ConfigError
from cnnlab.models.airbench import Whitening, fit_whitening
from cnnlab.models.mlp import parse_conv_widths
from cnnlab.models.registry import register

BN_MOMENTUM = 0.4
LOGIT_SCALE = 0.125
DEFAULT_WIDTHS = (64, 128, 256)
DEFAULT_RESIDUAL = (True, False, True)
STEMS = ("conv", "patch", "whiten")


def conv_bn_gelu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """A 3x3 conv (no bias), batch norm and GELU: the unit every speedrun group is made of."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
        nn.GELU(),
    ]


class Residual(nn.Module):
    """``x + f(x)`` with ``f`` two conv-BN-GELU layers of the same width."""

    def __init__(self, width: int):
        super().__init__()
        self.f = nn.Sequential(*conv_bn_gelu(width, width), *conv_bn_gelu(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.f(x)


def widening_conv(in_channels: int, width: int, patch: bool = False) -> nn.Conv2d:
    """3x3 at the input's resolution; or, as the first layer of a ``stem="patch"`` net, 4x4 patches
    with stride 2, which halves the resolution (padding 1 keeps 32x32 -> 16x16)."""
    if patch:
        return nn.Conv2d(in_channels, width, 4, stride=2, padding=1, bias=False)
    return nn.Conv2d(in_channels, width, 3, padding=1, bias=False)


def group(in_channels: int, width: int, residual: bool, patch: bool = False) -> nn.Sequential:
    """Widen, halve the size, normalise; then the optional residual pair."""
    layers = [
        widening_conv(in_channels, width, patch),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(width, momentum=BN_MOMENTUM),
        nn.GELU(),
    ]
    if residual:
        layers.append(Residual(width))
    return nn.Sequential(*layers)


class SpeedrunNet(nn.Module):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        residual: Sequence[bool] = DEFAULT_RESIDUAL,
        stem: str = "conv",
    ):
        super().__init__()
        if len(widths) != len(residual) or not widths or min(widths) < 2:
            raise ConfigError(
                f"speedrun needs one positive width per group and as many residual flags, "
                f"got widths={list(widths)} and residual={list(residual)}."
            )
        if stem not in STEMS:
            raise ConfigError(f"speedrun stem must be one of {', '.join(STEMS)}, not {stem!r}.")
        patch = stem == "patch"
        self.stem, channels = make_stem(stem, in_channels, widths[0])
        groups = []
        for index, (width, has_residual) in enumerate(zip(widths, residual, strict=True)):
            groups.append(group(channels, width, has_residual, patch=patch and index == 0))
            channels = width
        self.groups = nn.Sequential(*groups)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(channels, num_classes, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        features = self.pool(self.groups(self.stem(x))).flatten(1)
        return self.head(features) * LOGIT_SCALE

    def init_from_data(self, images: Tensor) -> None:
        """Fit a ``stem="whiten"`` net's whitening filters to normalised training images."""
        fit_whitening(self, images)


def make_stem(stem: str, in_channels: int, first_width: int) -> tuple[nn.Module, int]:
    """The stem and the channels it hands to the first group."""
    if stem == "patch":  # no layer of its own: the first group's conv reads the patches
        return nn.Identity(), in_channels
    if stem == "whiten":
        whitening = Whitening(in_channels)
        return nn.Sequential(whitening, nn.GELU()), whitening.out_channels
    return nn.Sequential(*conv_bn_gelu(in_channels, first_width // 2)), first_width // 2


@register(
    "speedrun",
    family="speedrun",
    paper="Jordan, 94% on CIFAR-10 in 3.29 seconds on a single GPU (airbench)",
    year=2024,
)
def speedrun(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    widths: str | Sequence[int] = DEFAULT_WIDTHS,
    residual: Sequence[bool] = DEFAULT_RESIDUAL,
    stem: str = "conv",
) -> SpeedrunNet:
    """Small residual net for fast CIFAR-10 training (widths 64-128-256, ResNet-9 / airbench style)."""
    parsed = parse_conv_widths("speedrun", widths, "64,128,256")
    return SpeedrunNet(num_classes, in_channels, parsed, _flags(residual), stem)


def _flags(values: Sequence[bool]) -> list[bool]:
    if not isinstance(values, Sequence) or not all(isinstance(v, bool) for v in values):
        raise ConfigError(
            f"speedrun residual must be a list of true/false, e.g. [true,false,true], not {values!r}."
        )
    return list(values)
