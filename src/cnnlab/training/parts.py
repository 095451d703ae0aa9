"""What takes part in a run: the protocol between the :class:`~cnnlab.training.trainer.Trainer`
and everything that is not the optimizer step itself (Lightning's and Keras's callbacks are the
idea; none of their code).

The trainer owns the model, the optimizer, the schedule, the position in the data and the metric
sums. Everything else that takes part in a run is a :class:`Part`: the weight average and the
lookahead (:mod:`cnnlab.training.ema`), the divergence guard (:mod:`cnnlab.training.divergence`),
the metrics log and curves.png (:mod:`cnnlab.training.metrics_log`), TensorBoard
(:mod:`cnnlab.training.tensorboard`), the checkpoints (:mod:`cnnlab.training.checkpointing`) and
the progress reporter (:mod:`cnnlab.training.progress`). The trainer calls the hooks of every part,
in the order of ``PARTS`` in :mod:`cnnlab.training.trainer` (each built by its ``for_run(trainer)``,
which returns None when the run's settings leave it out), at these moments::

    on_run_start(trainer, resumed)        after a resume's restore, before the first step
    on_epoch_start(trainer, epoch, batches, start_batch)
    before_forward(trainer, step)         inside the step, before the forward pass: a part may
                                          replace ``step.inputs`` and ``step.loss_fn`` (MixUp)
    after_optimizer_step(trainer, step)   inside the step, after optimizer.step(): change weights here
    on_step_end(trainer, images, record)  after each step; record: the step record, if one was due
    on_evaluation_start(trainer, split, images)
    on_epoch_end(trainer, record)         the epoch record; position and sums are at the boundary
    on_train_end(trainer)                 the last epoch is done (not on a fault or Ctrl-C)
    on_run_end(trainer, result)           always, with result.json's content, to close files

A part with state that a resumed run needs names a ``key``: its ``state_dict()`` is saved under
``checkpoint["training"][key]`` and handed back to ``load_state_dict`` on resume (not called when
an older checkpoint lacks the key). A part that averages weights (``averages_weights``) provides the
weights that evaluations and checkpoints report; when several do, the last one in ``PARTS`` wins.
A part that writes files (or shows progress) sets ``writes_files``: a data-parallel run builds it
on rank 0 only (:mod:`cnnlab.training.distributed`).

Rules that keep runs bit-exact: a hook must not draw random numbers, and must not read device
values every step (``float(tensor)`` waits for the device); read them when a record is due.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from cnnlab.training.trainer import Trainer


@dataclass
class StepInput:
    """What a training step computes its loss from; ``before_forward`` may replace either."""

    inputs: torch.Tensor
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> loss


class Part:
    """One thing that takes part in a run; every hook does nothing unless overridden."""

    # Where the part's state goes in checkpoint["training"]; None: nothing to save.
    key: str | None = None
    # True for parts that write into the run directory or show progress (built on rank 0 only in a
    # data-parallel run; the other ranks run without them).
    writes_files: bool = False
    # True for parts whose weights evaluations and checkpoints report (see evaluated_weights).
    averages_weights: bool = False

    @classmethod
    def for_run(cls, trainer: Trainer) -> Part | None:
        """The part for ``trainer``'s run, or None when its settings leave it out."""
        return cls()

    def on_run_start(self, trainer: Trainer, resumed: bool) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int, batches: int, start_batch: int) -> None: ...

    def before_forward(self, trainer: Trainer, step: StepInput) -> None: ...

    def after_optimizer_step(self, trainer: Trainer, step: int) -> None:
        """Optimizer step ``step`` (0-based) has just updated the weights."""

    def on_step_end(self, trainer: Trainer, images: int, record: dict[str, Any] | None) -> None:
        """A step on ``images`` images is done; ``record`` is the step record when one was due."""

    def on_evaluation_start(self, trainer: Trainer, split: str, images: int) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...

    def on_run_end(self, trainer: Trainer, result: dict[str, Any]) -> None: ...

    @contextlib.contextmanager
    def evaluated_weights(self) -> Iterator[None]:
        """While active, the model holds the weights to evaluate (parts with averages_weights)."""
        yield

    def evaluated_state_dict(self) -> dict[str, torch.Tensor] | None:
        """The model's state dict with the weights checkpoints report (parts with averages_weights)."""
        return None

    def state_dict(self) -> Any:
        """What a resumed run needs (plain data and tensors only: checkpoints load weights_only)."""
        return None

    def load_state_dict(self, state: Any) -> None: ...


__all__ = ["Part"]
