"""MixUp. Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond empirical risk minimization", ICLR 2018.

Each training step blends its batch with a shuffled copy of itself: images ``lam * x + (1 - lam) *
x[perm]`` and, since the labels cannot be blended as integers, the loss alike: ``lam * loss(y) +
(1 - lam) * loss(y[perm])``, with one ``lam`` a batch drawn from Beta(alpha, alpha) (the paper's
recipe; alpha 0.2 to 1 for CIFAR-10, section 3.2). It trains the network to behave linearly
between examples, which regularises it much as more data would.

``lam`` is taken as ``max(lam, 1 - lam)`` (as fastai does; Beta(alpha, alpha) is symmetric, so the
blends are the same), so every image keeps the larger share of itself. The training accuracy of a
MixUp run is therefore the agreement with each blended image's larger share's label: a measure of
fitting the blends, lower than an unmixed run's and not comparable with it. Compare runs by their
test (or validation) accuracy, which sees unmixed images.

Seeded and resumable like every augmentation: the weight and the pairing of step ``(epoch, batch)``
come from ``(seed, MIXUP, epoch, batch)`` (:mod:`cnnlab.training.seeding`), not from a generator
with a state, so a resumed run draws exactly what an uninterrupted one draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.training.metrics import uses_objective
from cnnlab.training.parts import Part, StepInput
from cnnlab.training.seeding import MIXUP, derived_seed

if TYPE_CHECKING:
    from cnnlab.training.config import TrainConfig
    from cnnlab.training.trainer import Trainer


def check_mixup(model: nn.Module, config: TrainConfig) -> None:
    """Refuse MixUp for a model without classes to blend (before the run's folder is made)."""
    if config.mixup is not None and uses_objective(model):
        raise ConfigError(
            f"--mixup needs a classifier: {config.model} trains by its own objective (an autoencoder, VAE "
            "or RBM), with no labels to blend."
        )


def draw(seed: int, epoch: int, batch: int, alpha: float, size: int) -> tuple[float, torch.Tensor]:
    """The blend weight (>= 0.5) and the pairing of one training step."""
    rng = np.random.default_rng(derived_seed(seed, MIXUP, epoch, batch))
    lam = float(rng.beta(alpha, alpha))
    return max(lam, 1.0 - lam), torch.from_numpy(rng.permutation(size))


class MixUp(Part):
    @classmethod
    def for_run(cls, trainer: Trainer) -> MixUp | None:
        return cls() if trainer.config.mixup is not None else None

    def before_forward(self, trainer: Trainer, step: StepInput) -> None:
        position, config = trainer.position, trainer.config
        lam, perm = draw(config.seed, position.epoch, position.batch, config.mixup, step.inputs.shape[0])
        perm = perm.to(step.inputs.device)
        step.inputs = lam * step.inputs + (1.0 - lam) * step.inputs[perm]
        loss_fn = step.loss_fn
        step.loss_fn = lambda logits, labels: (
            lam * loss_fn(logits, labels) + (1.0 - lam) * loss_fn(logits, labels[perm])
        )
