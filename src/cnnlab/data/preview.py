"""A PNG grid of sample images with their class names, for a person to look at."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from cnnlab.atomic import atomic_path
from cnnlab.data.image_dataset import ImageDataset
from cnnlab.errors import ConfigError


def sample_indices(dataset: ImageDataset, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` distinct random indices (seeded), in increasing order."""
    if count < 1:
        raise ConfigError(f"--count must be at least 1, got {count}.")
    count = min(count, len(dataset))
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(len(dataset), generator=generator)[:count].sort().values


def save_sample_grid(dataset: ImageDataset, out: str | Path, count: int = 32, seed: int = 0) -> Path:
    """Draw ``count`` random images of ``dataset`` in a grid, each titled with its class; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    index = sample_indices(dataset, count, seed)
    columns = min(len(index), 8)
    rows = math.ceil(len(index) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.75 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, index.tolist(), strict=False):
        image = dataset.images[i].permute(1, 2, 0).numpy()
        if dataset.in_channels == 1:
            ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(image, interpolation="nearest")
        ax.set_title(dataset.classes[int(dataset.labels[i])], fontsize=9)
    title = f"{dataset.name} ({dataset.split}, {dataset.verification}): {len(index)} of {len(dataset)} images"
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    return out
