"""The run's metrics.jsonl and curves.png, as parts of a run.

metrics.jsonl gets one ``{"kind": "step", ...}`` line per step record (every ``log_every`` steps)
and one ``{"kind": "epoch", ...}`` line per epoch; its format is what ``runs show``, curves.png, the
web lab and TensorBoard-less users read, so it does not change. A checkpoint records the file's
length (``checkpoint["training"]["metrics_offset"]``); a resumed run cuts the file back to it, so
the lines of work it redoes are not there twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.runs.curves import plot_curves
from cnnlab.runs.rundir import MetricsLog
from cnnlab.training.interrupts import writing
from cnnlab.training.parts import Part

if TYPE_CHECKING:
    from cnnlab.training.trainer import Trainer


class MetricsPart(Part):
    """Appends the step and epoch records to metrics.jsonl."""

    key = "metrics_offset"
    writes_files = True

    @classmethod
    def for_run(cls, trainer: Trainer) -> MetricsPart:
        return cls(trainer.run_dir.metrics_path)

    def __init__(self, path: Path):
        self.path = path
        self.log: MetricsLog | None = None

    def on_run_start(self, trainer: Trainer, resumed: bool) -> None:
        self.log = MetricsLog(self.path)

    def on_step_end(self, trainer: Trainer, images: int, record: dict[str, Any] | None) -> None:
        if record is not None:
            self.write(record)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.write({"kind": "epoch", **record})

    def write(self, record: dict[str, Any]) -> None:
        with writing(self.path):
            self.log.write(record)

    def state_dict(self) -> int:
        """The file's length, flushed to disk: everything before it belongs to the checkpoint."""
        with writing(self.path):
            return self.log.offset()

    def load_state_dict(self, offset: int) -> None:
        MetricsLog.truncate(self.path, offset)

    def on_run_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.close()


class CurvesPart(Part):
    """Draws curves.png from metrics.jsonl when the run ends (``--no-curves``: not)."""

    writes_files = True

    @classmethod
    def for_run(cls, trainer: Trainer) -> CurvesPart | None:
        return cls() if trainer.config.curves else None

    def on_run_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        run_dir = trainer.run_dir
        try:
            plot_curves(run_dir.read_metrics(), run_dir.curves_path, trainer.title())
        except Exception as exc:  # a plotting problem must not turn a finished run into a failure
            trainer.reporter.note(f"could not draw curves.png ({exc}).")
