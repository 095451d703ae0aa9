"""The dataset type every part of cnnlab passes around, and the builders that make one.

:class:`ImageDataset` holds one split as uint8 tensors in memory. :func:`decoded_with_stats` checks
decoded arrays and adds the train split's per-channel mean and std; :func:`dataset_from_decoded`
turns one split of them into an :class:`ImageDataset`. Both the named datasets
(:mod:`cnnlab.data.datasets`) and image folders (:mod:`cnnlab.data.image_folder`) build theirs
here; this module imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from cnnlab.data import cache, verify
from cnnlab.errors import ConfigError, DataError, UnknownNameError


@dataclass(repr=False)
class ImageDataset:
    """Images and labels of one split, held in memory.

    ``images`` is uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)``. ``mean`` and ``std`` are per
    channel on the [0, 1] scale and always those of the dataset's *train* split, so train,
    validation and test batches are normalised the same way.
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: list[float]
    std: list[float]
    verification: str = verify.UNVERIFIED
    location: str = ""

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(
                f"{self.name}: images must be uint8 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}."
            )
        if self.labels.shape != (self.images.shape[0],):
            raise DataError(
                f"{self.name}: {len(self.images)} images but labels of shape {tuple(self.labels.shape)}."
            )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.in_channels, *self.image_size

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, n: int) -> ImageDataset:
        """The first ``n`` images (all of them when ``n`` >= len); mean and std are kept."""
        if n < 1:
            raise ConfigError(f"A subset needs at least 1 image, got {n}.")
        return replace(self, images=self.images[:n], labels=self.labels[:n])

    def resized(self, size: int) -> ImageDataset:
        """Every image resized to ``size`` x ``size`` (bilinear); labels, mean and std are kept (a
        resize hardly moves the channel means, and train and test stay normalised alike)."""
        from cnnlab.data.transforms import resize_images

        if self.image_size == (size, size):
            return self
        return replace(self, images=resize_images(self.images, size))

    def class_counts(self) -> list[int]:
        """Number of images of each class, in class order."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def _repr_html_(self) -> str:
        """In a notebook: a grid of samples with their class names (see :mod:`cnnlab.data.preview`)."""
        from cnnlab.data.preview import dataset_html

        return dataset_html(self)

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, images={len(self)}x"
            f"{self.input_shape}, classes={self.num_classes}, verification={self.verification!r}, "
            f"location={self.location!r})"
        )


def decoded_with_stats(
    name: str, arrays: dict[str, dict[str, np.ndarray]], classes: list[str], verification: str
) -> cache.Decoded:
    """Check the arrays, then bundle them with classes and the train split's mean and std."""
    for split, pair in arrays.items():
        images, labels = pair["images"], pair["labels"]
        if len(images) != len(labels):
            raise DataError(f"{name} {split}: {len(images)} images but {len(labels)} labels.")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise DataError(
                f"{name} {split}: labels run from {labels.min()} to {labels.max()}, but there are "
                f"{len(classes)} classes. The files are corrupt or do not belong together."
            )
    mean, std = channel_stats(arrays["train"]["images"])
    meta = {"name": name, "classes": classes, "mean": mean, "std": std, "verification": verification}
    return cache.Decoded(arrays, meta)


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std on the [0, 1] scale, exact: from a 256-bin histogram per channel
    (no float copy of the whole array, no rounding from summing millions of floats)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for channel in range(tensor.shape[1]):
        counts = torch.bincount(tensor[:, channel].reshape(-1), minlength=256).double()
        total = counts.sum()
        mean = (counts * values).sum() / total
        var = (counts * values.square()).sum() / total - mean.square()
        means.append(float(mean))
        stds.append(float(var.clamp(min=0).sqrt()))
    return means, stds


def dataset_from_decoded(decoded: cache.Decoded, split: str, location: str) -> ImageDataset:
    meta = decoded.meta
    if split not in decoded.arrays:
        raise UnknownNameError("split", split, decoded.arrays)
    pair = decoded.arrays[split]
    return ImageDataset(
        name=meta["name"],
        split=split,
        images=torch.from_numpy(pair["images"]),
        labels=torch.from_numpy(pair["labels"]),
        classes=list(meta["classes"]),
        mean=list(meta["mean"]),
        std=list(meta["std"]),
        verification=meta["verification"],
        location=location,
    )
