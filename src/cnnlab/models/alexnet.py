"""AlexNet. Krizhevsky, Sutskever & Hinton, "ImageNet classification with deep convolutional neural
networks", NeurIPS 2012.

The layer widths are those of torchvision's reference, which follows Krizhevsky's single-GPU
"One weird trick" variant (2014): conv widths 64-192-384-256-256 instead of the paper's two-GPU
96-256-384-384-256 with grouped convolutions, and no local response normalisation. So the
224x224x3, 1000-class form has exactly torchvision's 61,100,840 parameters. An adaptive average
pool to 6x6 before the classifier (as in torchvision) lets any input of 63 px or more work.

No small-input form: the 11x11 stride-4 first layer is what AlexNet *is*, and on a 28x28 or
32x32 image it leaves too little for three max-pools, so those inputs are refused with the layer
that fails (use ``vgg``, ``resnet`` or ``lenet5`` for small images). PyTorch's default
initialisation, as torchvision.
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.models.registry import register


class AlexNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pooling: 3x3 windows, stride 2
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register(
    "alexnet",
    family="alexnet",
    paper="Krizhevsky et al., ImageNet classification with deep CNNs",
    year=2012,
    default_input=(3, 224, 224),
    paper_input=(3, 224, 224),
    paper_classes=1000,
)
def alexnet(num_classes: int, in_channels: int, input_size: tuple[int, int], dropout: float = 0.5) -> AlexNet:
    """AlexNet (torchvision's single-GPU widths); needs inputs of at least 63x63."""
    return AlexNet(num_classes, in_channels, dropout)
