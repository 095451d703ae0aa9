"""The fixed pixel permutation of fc-vs-cnn."""

from __future__ import annotations

import torch

from cnnlab.data import ImageDataset
from cnnlab.experiments import PixelPermutation


def _dataset(images: torch.Tensor) -> ImageDataset:
    labels = torch.arange(len(images)) % 10
    return ImageDataset("toy", "train", images, labels, [str(i) for i in range(10)], [0.5] * 3, [0.2] * 3)


def test_every_image_and_channel_is_shuffled_the_same_way():
    images = torch.randint(0, 256, (5, 3, 4, 6), dtype=torch.uint8)
    shuffled = PixelPermutation(seed=3).apply(images)
    order = PixelPermutation(seed=3).indices(24)
    assert sorted(order.tolist()) == list(range(24))
    for image, result in zip(images, shuffled, strict=True):
        assert torch.equal(result.reshape(3, 24), image.reshape(3, 24)[:, order])
    inverse = torch.argsort(order)
    assert torch.equal(shuffled.reshape(5, 3, 24)[:, :, inverse].reshape(images.shape), images)


def test_the_dataset_keeps_labels_and_pixel_statistics():
    images = torch.randint(0, 256, (8, 3, 5, 5), dtype=torch.uint8)
    original = _dataset(images)
    permuted = PixelPermutation(seed=0)(original)
    assert permuted.name == "toy-permuted"
    assert torch.equal(permuted.labels, original.labels)
    assert torch.equal(permuted.images.float().mean((0, 2, 3)), images.float().mean((0, 2, 3)))
    assert not torch.equal(permuted.images, images)
    assert torch.equal(PixelPermutation(seed=0)(original).images, permuted.images)
    assert not torch.equal(PixelPermutation(seed=1)(original).images, permuted.images)
