"""Batched tensor transforms: images stay uint8 (N, C, H, W) until the model needs floats."""

from __future__ import annotations

from collections.abc import Sequence

import torch

# How a model wants its pixels: "standardized" (minus the dataset mean, over its std; classifiers),
# "unit" ([0, 1]; e.g. a VAE with a Bernoulli decoder) or "symmetric" ([-1, 1]; a tanh autoencoder).
INPUT_SCALES = ("standardized", "unit", "symmetric")


def to_model_input(
    images: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    scale: str = "standardized",
) -> torch.Tensor:
    """Turn a uint8 batch (N, C, H, W) into the float batch a model expects.

    ``mean`` and ``std`` are per channel on the [0, 1] scale (only used for "standardized").
    """
    x = images.float().div_(255.0)
    if scale == "standardized":
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return x.sub_(m).div_(s)
    if scale == "unit":
        return x
    if scale == "symmetric":
        return x.mul_(2.0).sub_(1.0)
    raise ValueError(f"unknown input scale {scale!r}; expected one of {INPUT_SCALES}")


# Images resized at a time: bounds the float copy (1,024 CIFAR images at 224 px: 600 MB).
RESIZE_CHUNK = 1024


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """A uint8 batch (N, C, H, W) resized to ``size`` x ``size`` (bilinear; antialiased when shrinking),
    rounded back to uint8."""
    import torch.nn.functional as F

    shrink = size < min(images.shape[2:])
    chunks = [
        F.interpolate(
            chunk.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
        )
        .round_()
        .clamp_(0, 255)
        .to(torch.uint8)
        for chunk in images.split(RESIZE_CHUNK)
    ]
    return torch.cat(chunks) if chunks else images.new_empty((0, images.shape[1], size, size))
