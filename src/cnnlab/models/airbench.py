"""airbench's CIFAR-10 network: Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU" (2024).

Shape: a whitening layer, then three groups of conv, 2x2 max-pool, batch norm, GELU, conv, batch
norm, GELU; a global max-pool and one linear layer without bias, its logits divided by 9. What
makes it learn fast, and why:

- **Whitening.** The first layer is a 2x2 convolution whose filters are fixed before training to
  decorrelate the training images' 2x2 patches: the eigenvectors of the patches' covariance, each
  divided by the square root of its eigenvalue, and each also negated (GELU then passes both
  signs). The rest of the network starts from inputs whose directions all have the same variance,
  which plain SGD handles much better. :meth:`AirbenchNet.init_from_data` computes the filters;
  cnnlab's trainer calls it with the first 5,000 training images before the first step. The
  layer is never trained and has no bias (airbench trains one for 3 epochs): with nothing to learn
  in it, the backward pass stops at the first group (no gradient for its full-size input).
- **Identity start.** Each conv's first ``in_channels`` filters start as the identity (Dirac
  delta), so at step one a group passes its input through, pooled and normalised.
- **Batch norm without a scale, with a fast shift.** The scale is fixed at 1 (airbench found it
  not worth learning: one parameter set less to tune). The shift learns 64 times faster than the
  weights (airbench's ``bias_scaler``): it is stored divided by 8 and multiplied back in the
  forward pass, and an SGD step on a parameter used as ``8 * p`` moves the product 64 times as far.
  Momentum 0.4 (PyTorch's convention), as in ``speedrun``: a short run should not remember its
  first epochs.
- Logits divided by 9: the network's outputs start large (max pooling, no bias), and a softmax fed
  large logits saturates.

Changed from airbench94: no whitening bias; training runs in bfloat16 autocast rather than
float16 weights; the pooling at the end is adaptive, so inputs other than 32x32 (MNIST's 28x28)
also work. airbench's tricks in the training loop are the trainer's settings: ``lookahead``,
``alternate_flips``, ``optimizer="muon"``. ``cnnlab train --recipe cifar10-fast`` trains it as
airbench94_muon does, ``--recipe cifar10-airbench`` with airbench94's SGD settings; their numbers
on two CPU cores are in benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlab.errors import ConfigError
from cnnlab.models.mlp import parse_conv_widths
from cnnlab.models.registry import register

DEFAULT_WIDTHS = (64, 256, 256)
BN_MOMENTUM = 0.4
BN_EPS = 1e-12
SHIFT_SCALE = 8.0  # the shift's learning rate is SHIFT_SCALE**2 = 64 times the weights'
LOGIT_SCALE = 1 / 9
WHITENING_PATCH = 2
WHITENING_EPS = 5e-4  # added to the eigenvalues: the weakest directions are noise, not signal


class ShiftOnlyBatchNorm(nn.BatchNorm2d):
    """Batch norm with a learnt shift and no scale; the shift is stored divided by ``SHIFT_SCALE``."""

    def __init__(self, channels: int):
        super().__init__(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=False)
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            None,
            self.shift * SHIFT_SCALE,
            self.training,
            self.momentum,
            self.eps,
        )


def identity_start_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3x3 conv, 'same' padding, no bias; its first ``in_channels`` filters start as the identity."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[: min(in_channels, out_channels)])
    return conv


class ConvGroup(nn.Sequential):
    """conv, 2x2 max-pool, BN, GELU, conv, BN, GELU: pooling straight after the widening conv makes
    the second conv run at a quarter of the pixels."""

    def __init__(self, in_channels: int, width: int):
        super().__init__(
            identity_start_conv(in_channels, width),
            nn.MaxPool2d(2),
            ShiftOnlyBatchNorm(width),
            nn.GELU(),
            identity_start_conv(width, width),
            ShiftOnlyBatchNorm(width),
            nn.GELU(),
        )


class Whitening(nn.Conv2d):
    """A fixed 2x2 convolution that whitens its input's 2x2 patches once :meth:`fit` has seen them.

    Each whitening direction comes as a filter and its negation: ``2 * C * 2 * 2`` output channels.
    """

    def __init__(self, in_channels: int):
        super().__init__(in_channels, 2 * in_channels * WHITENING_PATCH**2, WHITENING_PATCH, bias=False)
        self.requires_grad_(False)

    @torch.no_grad()
    def fit(self, images: Tensor) -> None:
        """Set the filters from normalised training images ``(N, C, H, W)``."""
        eigenvalues, eigenvectors = patch_covariance_eigens(images, WHITENING_PATCH)
        filters = eigenvectors / torch.sqrt(eigenvalues + WHITENING_EPS).view(-1, 1, 1, 1)
        self.weight.copy_(torch.cat((filters, -filters)).to(self.weight))


class AirbenchNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, widths: Sequence[int] = DEFAULT_WIDTHS):
        super().__init__()
        if len(widths) != 3 or min(widths) < 1:
            raise ConfigError(f"airbench needs three positive widths like 64,256,256, got {list(widths)}.")
        self.whiten = Whitening(in_channels)
        channels, groups = self.whiten.out_channels, []
        for width in widths:
            groups.append(ConvGroup(channels, width))
            channels = width
        self.groups = nn.Sequential(nn.GELU(), *groups)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(channels, num_classes, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        features = self.pool(self.groups(self.whiten(x))).flatten(1)
        return self.head(features) * LOGIT_SCALE

    def init_from_data(self, images: Tensor) -> None:
        """Fit the whitening filters to normalised training images ``(N, C, H, W)``."""
        fit_whitening(self, images)


def fit_whitening(model: nn.Module, images: Tensor) -> None:
    """Fit every :class:`Whitening` layer of ``model`` to ``images`` (a model's ``init_from_data``)."""
    for module in model.modules():
        if isinstance(module, Whitening):
            module.fit(images)


def patch_covariance_eigens(images: Tensor, size: int, chunk: int = 1000) -> tuple[Tensor, Tensor]:
    """Eigenvalues (largest first) and eigenvectors, as ``(C*size*size, C, size, size)`` filters,
    of the uncentred covariance of all ``size`` x ``size`` patches of ``images``."""
    channels = images.shape[1]
    dims = channels * size * size
    second_moment = torch.zeros(dims, dims, dtype=torch.float64)
    count = 0
    for start in range(0, len(images), chunk):  # in chunks: all patches at once would take GBs
        patches = F.unfold(images[start : start + chunk].double().cpu(), size).transpose(1, 2)
        patches = patches.reshape(-1, dims)
        second_moment += patches.T @ patches
        count += len(patches)
    eigenvalues, eigenvectors = torch.linalg.eigh(second_moment / count)
    order = torch.arange(dims - 1, -1, -1)
    return eigenvalues[order].float(), eigenvectors.T[order].reshape(dims, channels, size, size).float()


@register(
    "airbench",
    family="airbench",
    paper="Jordan, 94% on CIFAR-10 in 3.29 seconds on a single GPU (airbench)",
    year=2024,
)
def airbench(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    widths: str | Sequence[int] = DEFAULT_WIDTHS,
) -> AirbenchNet:
    """airbench94's net: a fixed whitening layer, three conv groups (widths 64-256-256)."""
    return AirbenchNet(num_classes, in_channels, parse_conv_widths("airbench", widths, "64,256,256"))
