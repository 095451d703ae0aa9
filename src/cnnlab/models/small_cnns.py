"""Small CNNs: conv-ReLU-max-pool twice, then a few fully connected layers.

- ``course-cnn``: the course's CNN, parameter-matched to ``fc2layer`` on MNIST: two 5x5 convolutions
  with 6 maps each, FC 96-50-10 (6,422 parameters against the MLP's 6,442).
- ``tutorial-cnn``: the network of PyTorch's "Training a Classifier" tutorial (CIFAR-10): convolutions
  3->6 and 6->16 (5x5), FC 400-120-84-10 (62,006 parameters on 3x32x32).

The first linear layer is sized from the input (96 on 1x28x28, 150 / 400 on 3x32x32), so both
work at either dataset size. PyTorch's default initialisation, as in the course and the tutorial.

``input_scale`` says how the trainer scales the pixels: "standardized" (minus the dataset's mean,
over its std: cnnlab's default) or "symmetric" ((x - 0.5) / 0.5, i.e. [-1, 1]: the normalisation
of the course's CIFAR-10 notebook 05_02 and of PyTorch's tutorial).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from cnnlab.data.transforms import INPUT_SCALES
from cnnlab.errors import UnknownNameError
from cnnlab.models.mlp import MLP
from cnnlab.models.registry import register
from cnnlab.models.tracing import output_shape


class SmallCNN(nn.Module):
    """``[Conv 5x5 -> ReLU -> MaxPool 2] x len(channels)``, then an MLP with ``hidden`` widths."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        input_size: tuple[int, int],
        channels: Sequence[int],
        hidden: Sequence[int],
        input_scale: str = "standardized",
    ):
        super().__init__()
        if input_scale not in INPUT_SCALES:
            raise UnknownNameError("input scale", input_scale, INPUT_SCALES)
        self.input_scale = input_scale
        layers: list[nn.Module] = []
        for width in channels:
            layers += [nn.Conv2d(in_channels, width, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            in_channels = width
        self.features = nn.Sequential(*layers)
        flat = math.prod(output_shape(self.features, (layers[0].in_channels, *input_size), "features"))
        self.classifier = MLP(flat, hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@register(
    "course-cnn",
    family="small-cnn",
    paper="course: parameter-matched pair",
    year=None,
    default_input=(1, 28, 28),
)
def course_cnn(
    num_classes: int, in_channels: int, input_size: tuple[int, int], input_scale: str = "standardized"
) -> SmallCNN:
    """The course's CNN: two 5x5 convs with 6 maps, FC 96-50-10 (6,422 parameters on MNIST)."""
    return SmallCNN(
        num_classes, in_channels, input_size, channels=(6, 6), hidden=(50,), input_scale=input_scale
    )


@register("tutorial-cnn", family="small-cnn", paper="PyTorch tutorial: Training a Classifier", year=2017)
def tutorial_cnn(
    num_classes: int, in_channels: int, input_size: tuple[int, int], input_scale: str = "standardized"
) -> SmallCNN:
    """The PyTorch CIFAR-10 tutorial net: convs 6 and 16 maps (5x5), FC 400-120-84-10.

    ``input_scale="symmetric"``: pixels normalised with mean 0.5 and std 0.5, as the course does.
    """
    return SmallCNN(
        num_classes, in_channels, input_size, channels=(6, 16), hidden=(120, 84), input_scale=input_scale
    )
