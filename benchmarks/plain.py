"""The plain-PyTorch reference: training and evaluation written the way the course notebooks write them.

This is the yardstick the benchmarks measure cnnlab against, so it is deliberately ordinary: a
``Dataset`` whose ``__getitem__`` turns one uint8 image into a normalised float tensor (what
``transforms.Compose([ToTensor(), Normalize(mean, std)])`` does in the notebooks), a
``DataLoader`` (``num_workers=0``: the notebooks' setting on a laptop, and the only fair one on
two shared cores) that collates the samples into batches, and the loop
``for x, y in loader: zero_grad, forward, loss, backward, step``. Evaluation runs under
``torch.no_grad()`` with the training batch size. Nothing here uses cnnlab's training code; only
the model comes from ``cnnlab.models.create``, so both sides train the same network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset


class NormalizedImages(Dataset):
    """Per-sample transform over in-memory uint8 images ``(N, C, H, W)``, as a notebook writes it."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, mean: Sequence[float], std: Sequence[float]
    ):
        self.images, self.labels = images, labels
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float() / 255.0  # ToTensor
        image = (image - self.mean) / self.std  # Normalize
        return image, int(self.labels[index])


def plain_loader(dataset, batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """A notebook's DataLoader over a cnnlab ``ImageDataset`` (images, labels, mean, std)."""
    samples = NormalizedImages(dataset.images, dataset.labels, dataset.mean, dataset.std)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(samples, batch_size=batch_size, shuffle=shuffle, num_workers=0, generator=generator)


def plain_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classifiers; the model's own ``objective`` for autoencoders, VAE, RBM."""
    if callable(getattr(model, "objective", None)):
        return model.objective(x)["loss"]
    return F.cross_entropy(model(x), y)


def plain_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Optimizer:
    """Adam at 1e-3, the notebooks' choice, with PyTorch's defaults for everything else."""
    return torch.optim.Adam(model.parameters(), lr=lr)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One step of the notebook loop; returns the loss as the notebooks print it (``.item()``)."""
    optimizer.zero_grad()
    loss = plain_loss(model, x, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader) -> float:
    """One pass over ``loader``; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        total += train_step(model, optimizer, x, y) * len(y)
        count += len(y)
    return total / max(count, 1)


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    """Test accuracy, the notebooks' way: ``no_grad``, argmax, count."""
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            count += len(y)
    return correct / max(count, 1)


@dataclass
class StepTiming:
    """Wall-clock seconds of each measured training step (the loader's batch fetch included)."""

    batch_size: int
    seconds: list[float]

    @property
    def images_per_s(self) -> float:
        """Throughput of the fastest step: the least disturbed by other processes."""
        return self.batch_size / min(self.seconds)

    @property
    def median_images_per_s(self) -> float:
        ordered = sorted(self.seconds)
        return self.batch_size / ordered[len(ordered) // 2]


def time_steps(
    model: nn.Module, dataset, batch_size: int, *, warmup: int, steps: int, lr: float = 1e-3
) -> StepTiming:
    """Time ``steps`` notebook-loop steps after ``warmup`` untimed ones; each timing covers fetching
    the batch from the DataLoader, forward, backward and the optimizer step."""
    loader = plain_loader(dataset, batch_size, shuffle=True)
    optimizer = plain_optimizer(model, lr)
    model.train()
    batches = _endless(loader)
    for _ in range(warmup):
        train_step(model, optimizer, *next(batches))
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        train_step(model, optimizer, *next(batches))
        seconds.append(time.perf_counter() - start)
    return StepTiming(batch_size, seconds)


def _endless(loader: DataLoader):
    while True:
        yield from loader
