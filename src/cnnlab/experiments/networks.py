"""Networks the experiments define for themselves (not in the model zoo).

They live here, not in their experiment's module, so that the catalog (plans, estimates,
``cnnlab experiment list``) imports without torch.
"""

from __future__ import annotations

from torch import Tensor, nn


class SmallAlexNet(nn.Module):
    """Three conv-ReLU-pool stages (32 -> 4 px), then AlexNet's classifier with dropout ``p``."""

    def __init__(self, dropout: float, num_classes: int = 10, in_channels: int = 3, width: int = 512):
        super().__init__()
        layers: list[nn.Module] = []
        for out_channels in (32, 64, 128):
            layers += [
                nn.Conv2d(in_channels, out_channels, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(128 * 4 * 4, width), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(width, width), nn.ReLU(inplace=True),
            nn.Linear(width, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
