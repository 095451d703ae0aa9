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


def sample_grid_figure(dataset: ImageDataset, count: int = 32, seed: int = 0):
    """``count`` random images of ``dataset`` in a grid, each titled with its class (a Figure)."""
    from matplotlib.figure import Figure

    index = sample_indices(dataset, count, seed)
    columns = min(len(index), 8)
    rows = math.ceil(len(index) / columns)
    figure = Figure(figsize=(1.5 * columns, 1.75 * rows + 0.4))
    axes = figure.subplots(rows, columns, squeeze=False)
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
    return figure


def save_sample_grid(dataset: ImageDataset, out: str | Path, count: int = 32, seed: int = 0) -> Path:
    """Draw ``count`` random images of ``dataset`` in a grid, each titled with its class; write a PNG."""
    figure = sample_grid_figure(dataset, count, seed)
    out = Path(out)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return out


def dataset_html(dataset: ImageDataset, count: int = 16) -> str:
    """A dataset in a notebook: what it is, its classes with their counts, and a grid of samples."""
    from cnnlab.display import escape, figure_png, png_img

    pairs = zip(dataset.classes, dataset.class_counts(), strict=True)
    counts = ", ".join(f"{name} {n:,}" for name, n in pairs)
    shape = "x".join(map(str, dataset.input_shape))
    header = (
        f"<div><b>{escape(dataset.name)}</b> ({escape(dataset.split)}): {len(dataset):,} images of "
        f"{shape}, {dataset.num_classes} classes, {escape(dataset.verification)}, "
        f"from {escape(dataset.location)}"
        f"</div><div><small>{escape(counts)}</small></div>"
    )
    if len(dataset) == 0:
        return header
    return header + png_img(figure_png(sample_grid_figure(dataset, count)), f"{dataset.name} samples")
