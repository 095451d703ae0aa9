"""ZFNet. Zeiler & Fergus, "Visualizing and understanding convolutional networks", ECCV 2014.

The architecture of the paper's Fig. 3 (their AlexNet, fixed by looking at its features): a 7x7
stride-2 first layer instead of AlexNet's 11x11 stride 4 (fewer dead and aliased filters), dense
instead of two-GPU grouped connections, local contrast normalisation after layers 1 and 2, and
3x3 stride-2 max-pools. The map sizes of Fig. 3 (224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6)
need padding 1 in conv1 and ``ceil_mode`` in the first two pools (the cuda-convnet rounding).

Parameters at 224x224x3, 1000 classes, counted from Fig. 3's layer sizes (the paper prints no
total): conv 14,208 + 614,656 + 885,120 + 1,327,488 + 884,992; FC 37,752,832 + 16,781,312 +
4,097,000; total 62,357,608. Weights N(0, 0.01), biases 0, as the paper initialises.

No small-input form, for the reason given in ``alexnet``: inputs smaller than 64 px are refused.
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.models.registry import register


class ZFNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, kernel_size=7, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5),  # "contrast normalised across feature maps"
            nn.Conv2d(96, 256, kernel_size=5, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # the identity at 224x224; any size >= 64 works
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )  # fmt: skip
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register(
    "zfnet",
    family="zfnet",
    paper="Zeiler & Fergus, Visualizing and understanding CNNs",
    year=2014,
    default_input=(3, 224, 224),
    paper_input=(3, 224, 224),
    paper_classes=1000,
)
def zfnet(num_classes: int, in_channels: int, input_size: tuple[int, int], dropout: float = 0.5) -> ZFNet:
    """ZFNet as in the paper's Fig. 3 (7x7 stride-2 first layer, dense connections)."""
    return ZFNet(num_classes, in_channels, dropout)
