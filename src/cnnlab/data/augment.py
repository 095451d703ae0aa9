"""Batched, seeded augmentation on uint8 image tensors (N, C, H, W).

Every function works on the whole batch at once (no Python loop over images) and draws its
randomness from the ``torch.Generator`` it is given, never from the global RNG, so a batch's
augmentation is a pure function of the generator's seed. The random numbers are drawn on the CPU
and then moved to the images' device, so the result is the same on CPU and GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnnlab.data.padding import PAD_MODES
from cnnlab.errors import ConfigError


def random_crop(
    images: torch.Tensor, padding: int, generator: torch.Generator, pad_mode: str = "zeros"
) -> torch.Tensor:
    """Pad each image by ``padding`` pixels on every side (``pad_mode``: zeros or reflect), then cut
    a window of the original size at a random offset per image (the CIFAR "random crop with padding
    4")."""
    return crop_and_flip(images, padding, 0.0, generator, pad_mode=pad_mode)


def random_flip(images: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(images.shape[0], generator=generator) < p
    return mirror(images, flip)


def mirror(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images whose entry in the boolean ``flip`` (N,) is true."""
    return torch.where(flip.to(images.device).view(-1, 1, 1, 1), images.flip(3), images)


def alternating_flips(first_epoch_flips: torch.Tensor, epoch: int) -> torch.Tensor:
    """Which images to mirror in ``epoch`` under alternating flips (airbench, Jordan 2024): a
    random half in epoch 0, then each image the other way round from one epoch to the next. Every
    pair of epochs shows each image once each way, where random flips show about a quarter of the
    images the same way twice, so the network sees more distinct views for the same work."""
    return first_epoch_flips ^ bool(epoch % 2)


def crop_and_flip(
    images: torch.Tensor,
    padding: int,
    flip_p: float,
    generator: torch.Generator,
    flip: torch.Tensor | None = None,
    pad_mode: str = "zeros",
) -> torch.Tensor:
    """:func:`random_crop` then :func:`random_flip` (same random draws, same result), done as one
    gather: a flipped image reads its window's columns right to left, so the flip costs nothing.
    A boolean ``flip`` (N,) says which images to mirror instead of drawing them with ``flip_p``.
    Reflecting commutes with mirroring and with per-channel normalisation, so padding the uint8
    images is the same as padding the normalised ones."""
    n, c, h, w = images.shape
    if padding == 0 and flip_p == 0.0 and flip is None:
        return images
    device = images.device
    if padding:
        images = F.pad(images, (padding,) * 4, mode="constant" if pad_mode == "zeros" else pad_mode)
    width = w + 2 * padding
    offset_y = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator).to(device)
    offset_x = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator).to(device)
    cols = torch.arange(w, device=device).view(1, 1, w)
    if flip is None and flip_p:
        flip = torch.rand(n, generator=generator) < flip_p
    if flip is not None:
        cols = torch.where(flip.to(device).view(n, 1, 1), w - 1 - cols, cols)
    rows = torch.arange(h, device=device).view(1, h, 1) + offset_y
    # Index (n, c, h*w) into the flattened padded images picks each image's (mirrored) window.
    flat_index = (rows * width + cols + offset_x).view(n, 1, h * w).expand(n, c, h * w)
    return images.reshape(n, c, -1).gather(2, flat_index).view(n, c, h, w)


@dataclass(frozen=True)
class Augment:
    """Which augmentations a training batch gets; ``Augment()`` does nothing.

    ``crop_padding``: random crop with this much padding (4 for CIFAR), filled as ``crop_pad_mode``
    says (:data:`PAD_MODES`). ``flip``: random horizontal flip (not for digits, whose mirror image
    is another symbol). ``alternate_flips``: with ``flip``, each image is mirrored in every other
    epoch instead of at random (:func:`alternating_flips`); the loader then passes the batch's
    flips in.
    """

    crop_padding: int = 0
    flip: bool = False
    alternate_flips: bool = False
    crop_pad_mode: str = "zeros"

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ConfigError(f"crop_padding must be >= 0, got {self.crop_padding}.")
        if self.crop_pad_mode not in PAD_MODES:
            raise ConfigError(
                f"crop_pad_mode must be one of {', '.join(PAD_MODES)}, got {self.crop_pad_mode!r}."
            )
        if self.alternate_flips and not self.flip:
            raise ConfigError("Alternating flips need flips: set flip as well (augmentation 'altflip').")

    @property
    def is_identity(self) -> bool:
        return self.crop_padding == 0 and not self.flip

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator, flips: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Augment a uint8 batch (N, C, H, W); the same generator state gives the same result.
        ``flips`` (N,) says which images to mirror when flips alternate (and only then)."""
        if self.alternate_flips != (flips is not None):
            raise ValueError("Pass the batch's flips exactly when flips alternate.")
        if self.crop_padding:
            flip_p = 0.5 if self.flip else 0.0
            return crop_and_flip(images, self.crop_padding, flip_p, generator, flips, self.crop_pad_mode)
        if flips is not None:
            return mirror(images, flips)
        return random_flip(images, generator) if self.flip else images

    @classmethod
    def parse(cls, text: str) -> Augment:
        """Build from a short spec: ``"none"``, ``"flip"``, ``"altflip"`` (alternating flips),
        ``"crop4"``, ``"crop4,flip"``, ``"crop2,reflect,altflip"`` (the crop's padding reflected)."""
        crop, flip, alternate, pad_mode = 0, False, False, "zeros"
        for part in filter(None, (p.strip().lower() for p in text.split(","))):
            if part == "none":
                continue
            if part == "reflect":
                pad_mode = part
                continue
            if part in ("flip", "altflip"):
                flip, alternate = True, alternate or part == "altflip"
            elif part.startswith("crop") and part[4:].isdigit():
                crop = int(part[4:])
            else:
                raise ConfigError(
                    f"Unknown augmentation {part!r} in {text!r}. Use 'none', 'flip', 'altflip', "
                    "'crop<padding>' (e.g. 'crop4'), 'reflect' (with a crop), or a comma-separated list "
                    "such as 'crop4,flip'."
                )
        return cls(crop_padding=crop, flip=flip, alternate_flips=alternate, crop_pad_mode=pad_mode)

    def __str__(self) -> str:
        flip = ["altflip" if self.alternate_flips else "flip"] if self.flip else []
        crop = [f"crop{self.crop_padding}"] if self.crop_padding else []
        if crop and self.crop_pad_mode != "zeros":
            crop.append(self.crop_pad_mode)
        return ",".join(crop + flip) or "none"
