"""One fixed random permutation of pixel positions, applied identically to every image.

The course's test of what a CNN assumes: shuffle the pixels of every image the *same* way. A
fully connected net has no notion of which pixels are neighbours, so for it nothing changes but
the order of its input weights; a CNN's small shared filters look at neighbouring pixels, and
after the shuffle neighbours are no longer related. Channels move together (a pixel keeps its
colour), so per-channel mean and std, and hence the normalisation, are unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported when a permutation is drawn: experiment plans are listed without it
    import torch

    from cnnlab.data import ImageDataset


@dataclass(frozen=True)
class PixelPermutation:
    """The permutation drawn from ``seed``; calling it on a dataset returns the shuffled copy."""

    seed: int = 0

    def indices(self, num_pixels: int) -> torch.Tensor:
        """Position ``i`` of a shuffled image holds pixel ``indices[i]`` of the original (row-major)."""
        import torch

        generator = torch.Generator().manual_seed(self.seed)
        return torch.randperm(num_pixels, generator=generator)

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """Shuffle a batch of images (N, C, H, W); every image and channel the same way."""
        count, channels, height, width = images.shape
        order = self.indices(height * width)
        return images.reshape(count, channels, height * width)[:, :, order].reshape(images.shape).contiguous()

    def __call__(self, dataset: ImageDataset) -> ImageDataset:
        return dataclasses.replace(
            dataset, name=f"{dataset.name}-permuted", images=self.apply(dataset.images)
        )
