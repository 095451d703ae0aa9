"""Test-time augmentation (TTA): a classifier's logits averaged over mirrored and shifted views.

A network trained with random flips and crops has learnt that those views show the same object, but
its predictions on them still differ a little; averaging them cancels part of that noise and gains
a few tenths of a percent on CIFAR-10 for the price of 2 (``flip``) or 6 (``flip-shift``) forward
passes. A network trained for one epoch without augmentation (``cifar10-quick``) is noisier, and
gains about 2 points from ``flip-shift``. The speed runs (airbench) evaluate this way. Only the
evaluation changes, never training.

``flip``: the image and its mirror image. ``flip-shift``: those two, each also shifted by one pixel
up-left and down-right (the border repeated), weighted so that the unshifted views count half,
as airbench does.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from cnnlab.errors import ConfigError
from cnnlab.training.config import TTA_MODES


def check_tta(mode: str) -> str:
    """``mode`` if it names a TTA mode; ConfigError listing the modes otherwise."""
    if mode not in TTA_MODES:
        raise ConfigError(f"Unknown test-time augmentation {mode!r}; use one of {', '.join(TTA_MODES)}.")
    return mode


def shift(images: Tensor, dy: int, dx: int) -> Tensor:
    """``images`` moved by (dy, dx) pixels, the uncovered border filled by repeating the edge."""
    pad = max(abs(dy), abs(dx))
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    height, width = images.shape[-2:]
    top, left = pad - dy, pad - dx
    return padded[..., top : top + height, left : left + width]


class TestTimeAugmented(nn.Module):
    """Wraps a classifier: ``forward`` returns its logits averaged over the ``mode``'s views.

    The wrapper owns no weights (``state_dict`` is the model's, under ``model.``), so wrap a model
    only to evaluate it.
    """

    def __init__(self, model: nn.Module, mode: str = "flip"):
        super().__init__()
        if callable(getattr(model, "objective", None)):
            raise ConfigError(
                "Test-time augmentation applies to classifiers, not to models with an objective."
            )
        self.model, self.mode = model, check_tta(mode)
        self.input_scale = getattr(model, "input_scale", "standardized")

    def _views(self, x: Tensor) -> list[tuple[float, Tensor]]:
        if self.mode == "none":
            return [(1.0, x)]
        flipped = x.flip(-1)
        if self.mode == "flip":
            return [(0.5, x), (0.5, flipped)]
        shifted = [shift(view, d, d) for view in (x, flipped) for d in (-1, 1)]
        return [(0.25, x), (0.25, flipped), *((0.125, view) for view in shifted)]

    def forward(self, x: Tensor) -> Tensor:
        views = self._views(x)
        logits = None
        for weight, view in views:
            term = self.model(view).float() * weight
            logits = term if logits is None else logits + term
        return logits


def with_tta(model: nn.Module, mode: str) -> nn.Module:
    """``model`` itself for ``"none"``, else the :class:`TestTimeAugmented` wrapper."""
    return model if check_tta(mode) == "none" else TestTimeAugmented(model, mode)


# pytest would try to collect a class named Test*; it is not a test.
TestTimeAugmented.__test__ = False
