"""Multilayer perceptrons: the fully connected baseline, and the course's 784-8-8-10 network.

Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors", Nature 1986.
An MLP flattens the image, so it works at any input size; PyTorch's default initialisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models.registry import register


class MLP(nn.Sequential):
    """Flatten, then ``Linear + ReLU`` for each hidden width, then a linear layer to the classes."""

    def __init__(self, in_features: int, hidden: Sequence[int], num_classes: int):
        layers: list[nn.Module] = [nn.Flatten()]
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU(inplace=True)]
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        super().__init__(*layers)


def parse_widths(hidden: int | str | Sequence[int]) -> tuple[int, ...]:
    """``"256,128"``, ``256`` or ``[256, 128]`` -> ``(256, 128)``; empty means no hidden layer."""
    if isinstance(hidden, str):
        parts = [part.strip() for part in hidden.split(",") if part.strip()]
        if not all(part.isdigit() for part in parts):
            raise ConfigError(f"hidden must be comma-separated positive ints like '256,128', not {hidden!r}.")
        hidden = [int(part) for part in parts]
    widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    if not all(isinstance(w, int) and w >= 1 for w in widths):
        raise ConfigError(f"hidden widths must be positive ints, not {hidden!r}.")
    return widths


def parse_conv_widths(model: str, values: str | Sequence[int], example: str) -> list[int]:
    """:func:`parse_widths` for a conv net's ``widths`` option, its error naming the model."""
    try:
        return list(parse_widths(values))
    except ConfigError:
        raise ConfigError(
            f"{model} widths must be positive whole numbers like {example}, not {values!r}."
        ) from None


@register(
    "mlp", family="mlp", paper="Rumelhart et al., back-propagation", year=1986, default_input=(1, 28, 28)
)
def mlp(num_classes: int, in_channels: int, input_size: tuple[int, int], hidden=(256, 128)) -> MLP:
    """Multilayer perceptron with configurable hidden widths (default 256-128, ReLU)."""
    return MLP(in_channels * math.prod(input_size), parse_widths(hidden), num_classes)


@register(
    "fc2layer", family="mlp", paper="course: parameter-matched pair", year=None, default_input=(1, 28, 28)
)
def fc2layer(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> MLP:
    """The course's two-hidden-layer net 784-8-8-10 (6,442 parameters on MNIST), twin of course-cnn."""
    return MLP(in_channels * math.prod(input_size), (8, 8), num_classes)
