"""Checkpoints as a part of a run: ``last.pt`` every ``checkpoint_every`` steps and at each epoch's
end, ``best.pt`` when the monitored metric improved, and result.json after them.

What a checkpoint holds is the trainer's (:meth:`~cnnlab.training.trainer.Trainer.payload`: the
model, the data's description and, for ``last.pt``, the training state with every part's state
under its key); when it is written is this part's. Writes are atomic (:mod:`cnnlab.atomic`): a run
killed or out of disk space in the middle of one keeps its previous checkpoint whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnlab.training.parts import Part

if TYPE_CHECKING:
    from cnnlab.training.trainer import Trainer


class CheckpointPart(Part):
    # Its files are written through the trainer (save_last, save_checkpoint, write_result), which
    # writes on rank 0 alone; every rank of a data-parallel run takes part, since a checkpoint
    # gathers the ranks' partial metric sums.
    writes_files = False

    def on_step_end(self, trainer: Trainer, images: int, record: dict[str, Any] | None) -> None:
        every = trainer.config.checkpoint_every
        position = trainer.position
        # An epoch's last step is checkpointed by on_epoch_end, after its evaluation.
        if every and position.step % every == 0 and position.batch < trainer.steps_per_epoch:
            trainer.save_last()

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if trainer.best.epoch == record["epoch"]:  # this epoch improved the monitored metric
            trainer.save_checkpoint(trainer.run_dir.best_checkpoint, training=False)
        trainer.save_last()
        trainer.write_result("running")
