"""Optional TensorBoard logging (``--tensorboard``): scalars and a few training images.

TensorBoard is an optional extra (``pip install 'cnnlab[tensorboard]'``); asking for it without the
package installed is refused before the run starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cnnlab.errors import ConfigError
from cnnlab.training.parts import Part

if TYPE_CHECKING:
    from cnnlab.training.trainer import Trainer

IMAGES_SHOWN = 16


def require_tensorboard() -> None:
    """ConfigError with the install command when TensorBoard is missing."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--tensorboard needs the tensorboard package: pip install 'cnnlab[tensorboard]' "
            "(or leave out --tensorboard; metrics.jsonl and curves.png have the same numbers)."
        ) from None


class TensorBoardLog:
    """Writes a run's step and epoch records as TensorBoard scalars."""

    def __init__(self, log_dir: Path, resume_step: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run wrote after its checkpoint, as metrics.jsonl does.
        self.writer = SummaryWriter(str(log_dir), purge_step=resume_step or None)

    def images(self, images: torch.Tensor) -> None:
        """A grid of the first training images (uint8 N, C, H, W), as the model's input source."""
        self.writer.add_images("train/images", images[:IMAGES_SHOWN], 0, dataformats="NCHW")

    def step(self, record: dict[str, Any]) -> None:
        self.writer.add_scalar("train/step_loss", record["loss"], record["step"])
        if "accuracy" in record:
            self.writer.add_scalar("train/step_accuracy", record["accuracy"], record["step"])
        self.writer.add_scalar("train/lr", record["lr"], record["step"])

    def epoch(self, record: dict[str, Any]) -> None:
        for key, value in record.items():
            split, _, quantity = key.partition("_")
            if split in ("train", "val", "test") and isinstance(value, float):
                self.writer.add_scalar(f"{quantity}/{split}", value, record["epoch"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class TensorBoardPart(Part):
    """``--tensorboard``: the step and epoch records (and a grid of training images) as events."""

    writes_files = True

    @classmethod
    def for_run(cls, trainer: Trainer) -> TensorBoardPart | None:
        return cls() if trainer.config.tensorboard else None

    def __init__(self) -> None:
        self.log: TensorBoardLog | None = None

    def on_run_start(self, trainer: Trainer, resumed: bool) -> None:
        self.log = TensorBoardLog(trainer.run_dir.tensorboard_dir, trainer.position.step)
        if not resumed:
            self.log.images(trainer.data.train.images)

    def on_step_end(self, trainer: Trainer, images: int, record: dict[str, Any] | None) -> None:
        if record is not None:
            self.log.step(record)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.log.epoch(record)

    def on_run_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.close()
