"""What one batch costs, and the running sums of an epoch's metrics, kept on the device.

Adding a batch to :class:`MetricSums` queues a few tensor additions and never waits for the device
(no ``.item()``): the numbers are read once, when a record is written. The sums are float64 and
int64, so an epoch's mean does not depend on float32 rounding of long sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class BatchOutput:
    loss: torch.Tensor  # scalar, the batch mean the optimizer minimises
    logits: torch.Tensor | None = None  # classifiers
    terms: dict[str, torch.Tensor] | None = None  # non-classifiers: every term of objective()


def uses_objective(model: nn.Module) -> bool:
    """True for models trained by their own ``objective(x)`` (autoencoders, VAE, RBM)."""
    return callable(getattr(model, "objective", None))


def batch_output(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: LossFn,
    forward: Callable[[torch.Tensor], Any] | None = None,
) -> BatchOutput:
    """Run the model on a batch: ``objective(x)`` for non-classifiers, else ``loss_fn(model(x), y)``.

    ``forward``: what to call instead of ``model.objective`` / ``model`` (a data-parallel wrapper
    that computes the same thing); the model's own attributes are still read from ``model``."""
    if uses_objective(model):
        terms = (forward or model.objective)(inputs)
        return BatchOutput(loss=terms["loss"], terms=terms)
    logits = (forward or model)(inputs)
    return BatchOutput(loss=loss_fn(logits, labels) + auxiliary_loss(model, labels, loss_fn), logits=logits)


def auxiliary_loss(model: nn.Module, labels: torch.Tensor, loss_fn: LossFn) -> torch.Tensor | float:
    """GoogLeNet / Inception-v3 auxiliary heads: their losses, weighted as in the papers (0.3, 0.4).

    The models leave the heads' logits in ``model.aux_outputs`` during training (empty in eval)."""
    aux_outputs = getattr(model, "aux_outputs", None)
    if not model.training or not aux_outputs:
        return 0.0
    return model.aux_loss_weight * sum(loss_fn(aux, labels) for aux in aux_outputs)


class MetricSums:
    """Image-weighted sums of the loss (and accuracy or objective terms) over many batches."""

    def __init__(self, device: torch.device):
        self.device = device
        self.count = 0
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.terms: dict[str, torch.Tensor] = {}
        self.classify = True

    def add(self, output: BatchOutput, labels: torch.Tensor) -> torch.Tensor | None:
        """Add a batch; return its number of right predictions (a tensor) for classifiers."""
        n = labels.shape[0]
        self.count += n
        self.loss += output.loss.detach().double() * n
        if output.logits is not None:
            correct = (output.logits.detach().argmax(1) == labels).sum()
            self.correct += correct
            return correct
        self.classify = False
        for name, value in (output.terms or {}).items():
            if name == "loss":
                continue
            total = self.terms.setdefault(name, torch.zeros((), dtype=torch.float64, device=self.device))
            total += value.detach().double() * n
        return None

    def results(self) -> dict[str, float]:
        """Means over the images seen: ``loss`` and ``accuracy``, or ``loss`` and each term."""
        if self.count == 0:
            return {}
        values = {"loss": float(self.loss) / self.count}
        if self.classify:
            values["accuracy"] = int(self.correct) / self.count
        values.update({name: float(total) / self.count for name, total in self.terms.items()})
        return values

    def state_dict(self) -> dict:
        return {
            "count": self.count,
            "loss": self.loss.cpu(),
            "correct": self.correct.cpu(),
            "terms": {k: v.cpu() for k, v in self.terms.items()},
            "classify": self.classify,
        }

    def load_state_dict(self, state: dict) -> None:
        self.count = state["count"]
        self.loss = state["loss"].to(self.device)
        self.correct = state["correct"].to(self.device)
        self.terms = {k: v.to(self.device) for k, v in state["terms"].items()}
        self.classify = state["classify"]


class StepWindow:
    """The steps since the last step record: each step's loss in a buffer on the device, and the
    right predictions and images for the window's accuracy.

    One copy a step and no sync; when a record is due, the buffer is read once. Keeping each step's
    loss (not only a sum) lets the non-finite check name the exact step that diverged.
    """

    def __init__(self, size: int, device: torch.device):
        self.buffer = torch.zeros(size, dtype=torch.float32, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.images = 0
        self.filled = 0
        self.first_step = 0  # global index of the step in buffer[0]

    def add(self, loss: torch.Tensor, step: int, images: int, correct: torch.Tensor | None) -> None:
        if self.filled == 0:
            self.first_step = step
        self.buffer[self.filled] = loss.detach()
        self.filled += 1
        self.images += images
        if correct is not None:
            self.correct += correct

    @property
    def full(self) -> bool:
        return self.filled == self.buffer.shape[0]

    def first_non_finite(self) -> int | None:
        """The global step index of the first non-finite loss in the window, or None."""
        bad = torch.nonzero(~torch.isfinite(self.buffer[: self.filled]))
        return None if bad.numel() == 0 else self.first_step + int(bad[0, 0])

    def loss_of(self, step: int) -> float:
        """The loss of global step ``step`` of this window (also after ``take``; a device read)."""
        return float(self.buffer[step - self.first_step])

    def peek(self, classify: bool) -> dict[str, float] | None:
        """The window's figures so far, as ``take`` would give them, without emptying it (a device
        read: for a progress display about once a second, not every step); None when empty."""
        return self._figures(classify) if self.filled else None

    def _figures(self, classify: bool) -> dict[str, float]:
        values = {"loss": float(self.buffer[: self.filled].double().mean())}
        if classify:
            values["accuracy"] = int(self.correct) / max(self.images, 1)
        return values

    def take(self, classify: bool) -> dict[str, float]:
        """The window's mean ``loss`` (and ``accuracy`` for classifiers); empties it."""
        values = self._figures(classify)
        self.filled, self.images = 0, 0
        self.correct.zero_()
        return values

    def state_dict(self) -> dict:
        return {
            "buffer": self.buffer.cpu(),
            "filled": self.filled,
            "first_step": self.first_step,
            "correct": self.correct.cpu(),
            "images": self.images,
        }

    def load_state_dict(self, state: dict) -> None:
        device = self.buffer.device
        self.buffer = state["buffer"].to(device)
        self.correct = state["correct"].to(device)
        self.filled, self.first_step, self.images = state["filled"], state["first_step"], state["images"]
