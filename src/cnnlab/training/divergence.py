"""A loss that explodes stops the run, as a NaN does: the step, the learning rate and a fix.

A NaN or infinite loss is caught by the trainer at every step record. A loss that stays finite but
explodes (SGD at lr 100: 13,608 after one epoch; Adam at lr 1e6: about 2e7) is not a number any
fixed threshold knows, since losses have every scale; it is measured against the run's own start.
The reference is the loss of the run's first step (the model as initialised: warm-up and one-cycle
schedules start with a small rate, and a bad first step cannot raise it), at least 1.0 (a model
that starts near a loss of 0, e.g. fine-tuned on its own data, may rise to a normal loss). A step
record's window mean, or an epoch's training loss, above ``EXPLOSION_FACTOR`` times the reference
is divergence: for a cross-entropy that starts at ln(10) = 2.3 that is a mean of 230, a model
confidently wrong by logit margins of hundreds, which no healthy run reaches.

Only classifiers are watched: their losses (cross-entropy, nll, mse, focal) are >= 0, while the
objective of an RBM (a difference of free energies) changes sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnlab.training.parts import Part

if TYPE_CHECKING:
    from cnnlab.training.trainer import Trainer

EXPLOSION_FACTOR = 100.0
REFERENCE_FLOOR = 1.0


@dataclass
class LossDiverged(Exception):
    """The loss became non-finite or exploded at optimizer step ``step`` (0-based)."""

    step: int
    value: float
    lr: float
    reason: str = ""  # how it was judged, for the message (empty for a non-finite loss)


class DivergenceGuard(Part):
    """Stops a classifier's run whose loss exceeds EXPLOSION_FACTOR times its first step's."""

    key = "divergence"

    @classmethod
    def for_run(cls, trainer: Trainer) -> DivergenceGuard | None:
        return None if trainer.objective else cls()

    def __init__(self) -> None:
        self.first_loss: float | None = None

    def on_step_end(self, trainer: Trainer, images: int, record: dict[str, Any] | None) -> None:
        if trainer.position.step == 1:  # one read of the device, after the first step only
            # rank 0's on every rank of a data-parallel run, so that all ranks judge alike
            self.first_loss = trainer.ranks.broadcast(trainer.window.loss_of(0))
        if record is not None:
            self.check(trainer, record["loss"], record["step"] - 1, "the mean of the last steps")

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.check(trainer, record["train_loss"], record["step"] - 1, "the epoch's mean")

    def check(self, trainer: Trainer, loss: float, step: int, what: str) -> None:
        if self.first_loss is None:  # resumed from a checkpoint older than this guard
            return
        reference = max(self.first_loss, REFERENCE_FLOOR)
        if loss > EXPLOSION_FACTOR * reference:
            reason = (
                f" ({what}, more than {EXPLOSION_FACTOR:g} times the first step's loss of "
                f"{self.first_loss:.4g})"
            )
            raise LossDiverged(step, loss, trainer.schedule.lr(step), reason)

    def state_dict(self) -> dict[str, Any]:
        return {"first_loss": self.first_loss}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.first_loss = state["first_loss"]
