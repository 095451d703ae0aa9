"""VGG. Simonyan & Zisserman, "Very deep convolutional networks for large-scale image recognition",
ICLR 2015 (arXiv 2014). Batch-norm variants as torchvision's (Ioffe & Szegedy, 2015).

Only 3x3 convolutions (padding 1, so they keep the size) and 2x2 max-pools (which halve it); the
configurations A, B, D, E of the paper's Table 1 are VGG-11, 13, 16, 19. The 224x224x3, 1000-class
form is torchvision's: adaptive average pool to 7x7, FC 25088-4096-4096-1000 with dropout, and
exactly its parameter counts (VGG-16: 138,357,544; with batch norm: 138,365,992).

Small inputs (< 64 px), the usual CIFAR form (kuangliu's pytorch-cifar): five pools take 32x32
down to 1x1x512, and a single 512 -> classes linear layer replaces the 120M-parameter head, which
would only overfit 32x32 images. Inputs under 32 px (MNIST's 28) are zero-padded to 32 first,
because five halvings of 28 reach 0 (28 -> 14 -> 7 -> 3 -> 1 -> 0). Initialisation as torchvision:
Kaiming-normal (fan-out) convolutions, N(0, 0.01) linear layers, zero biases.
"""

from __future__ import annotations

from torch import Tensor, nn

from cnnlab.models.registry import register, small_input

# Table 1: numbers are 3x3 conv widths, "M" a 2x2 max-pool.
CONFIGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}
SMALL_SIZE = 32  # the small form's design size: 32 -> 1 after five pools


def make_layers(config: list[int | str], in_channels: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, item, kernel_size=3, padding=1))
        layers += [nn.BatchNorm2d(item), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
        in_channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(
        self, features: nn.Sequential, num_classes: int, input_size: tuple[int, int], dropout: float
    ):
        super().__init__()
        self.pad = _pad_to(input_size, SMALL_SIZE) if small_input(input_size) else None
        self.features = features
        if small_input(input_size):
            self.avgpool = nn.Identity()
            self.classifier = nn.Linear(512, num_classes)  # CIFAR head: the 1x1x512 map straight to classes
        else:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(4096, num_classes),
            )  # fmt: skip
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.pad is not None:
            x = self.pad(x)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _pad_to(input_size: tuple[int, int], target: int) -> nn.Module | None:
    """Zero padding that brings a smaller input up to ``target`` pixels, or None when not needed."""
    extra_h, extra_w = (max(0, target - size) for size in input_size)
    if extra_h == extra_w == 0:
        return None
    return nn.ZeroPad2d((extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2))


def _register_variant(depth: int, batch_norm: bool) -> None:
    name = f"vgg{depth}" + ("-bn" if batch_norm else "")

    def build(num_classes: int, in_channels: int, input_size: tuple[int, int], dropout: float = 0.5) -> VGG:
        return VGG(make_layers(CONFIGS[depth], in_channels, batch_norm), num_classes, input_size, dropout)

    norm = "with batch norm" if batch_norm else "without batch norm"
    build.__doc__ = f"VGG-{depth} ({norm}); 512->classes head on inputs under 64 px."
    paper = "Simonyan & Zisserman, Very deep CNNs for large-scale image recognition"
    register(name, family="vgg", paper=paper, year=2014, paper_input=(3, 224, 224), paper_classes=1000)(build)


for _depth in CONFIGS:
    for _batch_norm in (False, True):
        _register_variant(_depth, _batch_norm)
