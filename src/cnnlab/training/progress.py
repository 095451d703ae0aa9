"""How a run shows its progress: a live rich bar (loss, accuracy, images/s, ETA) and one line an
epoch, or nothing (``--quiet``, ``--json``, scripts). Output goes to stderr, so stdout stays free
for results.

The trainer calls the hooks of a :class:`Reporter`; it hands over numbers it has already read from
the device for its metrics log, so showing progress never adds a device sync.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# Keys of epoch records that measure time, not learning: they differ between identical runs.
TIMING_KEYS = ("time_s", "images_per_s")
_POSITION_KEYS = ("epoch", "step", "lr")


@dataclass(frozen=True)
class RunStart:
    run_dir: str
    model: str
    dataset: str
    train_images: int
    val_images: int
    test_images: int
    epochs: int
    hardware: str
    resumed_at: str | None = None  # "epoch 2, batch 113" when resuming


class Reporter:
    """The hooks of a run; this base class shows nothing."""

    def run_started(self, start: RunStart) -> None: ...

    def epoch_started(self, epoch: int, epochs: int, batches: int, start_batch: int) -> None: ...

    def step(self, images: int, stats: dict[str, float] | None) -> None:
        """One optimizer step on ``images`` images; ``stats`` when a step record was just written."""

    def epoch_ended(self, record: dict[str, Any]) -> None: ...

    def note(self, text: str) -> None:
        """A warning that does not stop the run."""

    def run_ended(self, result: dict[str, Any]) -> None: ...


class ConsoleReporter(Reporter):
    """A transient progress bar per epoch and a permanent summary line per epoch, on stderr."""

    def __init__(self, console: Console | None = None, *, summary: bool = True):
        self.console = console or Console(stderr=True, highlight=False)
        self.summary = summary
        self._progress: Progress | None = None
        self._task = None
        self._images = 0
        self._started = 0.0
        self._stats = ""

    def run_started(self, start: RunStart) -> None:
        sizes = image_counts(start)
        verb = f"Resuming at {start.resumed_at}:" if start.resumed_at else "Training"
        self.console.print(
            f"{verb} [bold]{start.model}[/] on [bold]{start.dataset}[/] ({sizes} images), "
            f"{start.epochs} epoch{'s' if start.epochs != 1 else ''}, {start.hardware}\n"
            f"Run directory: {start.run_dir}"
        )

    def epoch_started(self, epoch: int, epochs: int, batches: int, start_batch: int) -> None:
        self._progress = Progress(
            TextColumn(f"Epoch {epoch + 1}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=batches, completed=start_batch, stats="")
        self._images, self._started = 0, time.perf_counter()

    def step(self, images: int, stats: dict[str, float] | None) -> None:
        if self._progress is None:
            return
        self._images += images
        if stats is not None:
            rate = self._images / max(time.perf_counter() - self._started, 1e-9)
            self._stats = "  ".join([*(format_metric(k, v) for k, v in stats.items()), f"{rate:,.0f} img/s"])
        self._progress.update(self._task, advance=1, stats=self._stats)

    def epoch_ended(self, record: dict[str, Any]) -> None:
        self._stop_bar()
        metrics = [format_metric(k, v) for k, v in record.items() if k not in (*TIMING_KEYS, *_POSITION_KEYS)]
        timing = f"({record.get('time_s', 0):.1f} s, {record.get('images_per_s', 0):,.0f} img/s)"
        self.console.print(f"Epoch {record['epoch']}  " + "  ".join(metrics) + f"  {timing}")

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]Warning:[/] {text}")

    def run_ended(self, result: dict[str, Any]) -> None:
        self._stop_bar()
        if not self.summary:
            return
        final = result.get("final") or {}
        shown = [format_metric(k, final[k]) for k in ("test_accuracy", "test_loss") if k in final]
        self.console.print(
            f"{result.get('status', '').capitalize()} in {result.get('duration_s', 0):.1f} s"
            + (": " + "  ".join(shown) if shown else "")
        )

    def _stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def image_counts(start: RunStart) -> str:
    """``60,000 train / 10,000 test``: the splits a run uses."""
    sizes = f"{start.train_images:,} train"
    if start.val_images:
        sizes += f" / {start.val_images:,} val"
    if start.test_images:
        sizes += f" / {start.test_images:,} test"
    return sizes


def format_metric(key: str, value: Any) -> str:
    """``test_accuracy 98.31%``, ``train_loss 0.0612``."""
    if isinstance(value, float) and key.endswith("accuracy"):
        return f"{key} {value:.2%}"
    if isinstance(value, float):
        return f"{key} {value:.4g}"
    return f"{key} {value}"


def make_reporter(progress: bool | Reporter) -> Reporter:
    """``True``: the console reporter; ``False``: silence; a Reporter is used as given."""
    if isinstance(progress, Reporter):
        return progress
    return ConsoleReporter() if progress else Reporter()
