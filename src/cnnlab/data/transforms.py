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
