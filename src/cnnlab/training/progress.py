"""How a run shows its progress: a live rich bar (loss, accuracy, images/s, ETA) and one line an
epoch, or nothing (``--quiet``, ``--json``, scripts). Output goes to stderr, so stdout stays free
for results.

The trainer calls the hooks of a :class:`Reporter` through :class:`ReporterPart` (a part of the
run, :mod:`cnnlab.training.parts`). It hands over the numbers of each step record (read from the
device for the metrics log anyway) and, for a reporter with ``live_figures`` (the console bar),
the window's figures about once a second: one device read a second, never one a step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cnnlab.training.parts import Part

if TYPE_CHECKING:
    from cnnlab.training.trainer import Trainer

# Keys of epoch records that measure time, not learning: they differ between identical runs.
TIMING_KEYS = ("time_s", "images_per_s")
_POSITION_KEYS = ("epoch", "step", "lr")
# Keys of a step record that place it rather than measure it.
_STEP_RECORD_KEYS = ("kind", "epoch", "batch", "step", "lr")
# How often a reporter with live_figures gets fresh figures within an epoch, in seconds.
REFRESH_S = 1.0


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
    classes: int = 0  # classes of a classifier's data (0: not a classifier)


class Reporter:
    """The hooks of a run; this base class shows nothing.

    Write your own by overriding some of them, e.g. ``epoch_ended(record)`` to report each epoch's
    metrics to a sweep's pruner, and pass it as ``cnnlab.train(..., progress=reporter)``.
    """

    # True: step() also gets the running figures about once a second (one device read each).
    live_figures: bool = False

    def run_started(self, start: RunStart) -> None: ...

    def epoch_started(self, epoch: int, epochs: int, batches: int, start_batch: int) -> None: ...

    def step(self, images: int, stats: dict[str, float] | None) -> None:
        """One optimizer step on ``images`` images; ``stats`` (loss, accuracy) when a step record
        was just written, or with ``live_figures`` when a second has passed since the last ones."""

    def evaluation_started(self, split: str, images: int) -> None:
        """The model is being evaluated on ``images`` images of ``split`` (val or test)."""

    def epoch_ended(self, record: dict[str, Any]) -> None: ...

    def note(self, text: str) -> None:
        """A warning that does not stop the run."""

    def run_ended(self, result: dict[str, Any]) -> None: ...


class ConsoleReporter(Reporter):
    """A transient progress bar per epoch and a permanent summary line per epoch, on stderr."""

    live_figures = True

    def __init__(self, console: Console | None = None, *, summary: bool = True):
        self.console = console or Console(stderr=True, highlight=False)
        self.summary = summary
        self._progress: Progress | None = None
        self._task = None
        self._images = 0
        self._started = 0.0
        self._stats = ""
        self._start: RunStart | None = None
        self._epoch_label = ""

    def run_started(self, start: RunStart) -> None:
        sizes = image_counts(start)
        self._start = start
        verb = f"Resuming at {start.resumed_at}:" if start.resumed_at else "Training"
        self.console.print(
            f"{verb} [bold]{start.model}[/] on [bold]{start.dataset}[/] ({sizes} images), "
            f"{start.epochs} epoch{'s' if start.epochs != 1 else ''}, {start.hardware}\n"
            f"Run directory: {start.run_dir}"
        )

    def epoch_started(self, epoch: int, epochs: int, batches: int, start_batch: int) -> None:
        self._epoch_label = f"Epoch {epoch + 1}/{epochs}"
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self._epoch_label, total=batches, completed=start_batch, stats=""
        )
        self._images, self._started = 0, time.perf_counter()

    def step(self, images: int, stats: dict[str, float] | None) -> None:
        if self._progress is None:
            return
        self._images += images
        if stats is not None:
            rate = self._images / max(time.perf_counter() - self._started, 1e-9)
            self._stats = "  ".join([*(format_metric(k, v) for k, v in stats.items()), f"{rate:,.0f} img/s"])
        self._progress.update(self._task, advance=1, stats=self._stats)

    def evaluation_started(self, split: str, images: int) -> None:
        if self._progress is not None:
            label = f"{self._epoch_label} [cyan]evaluating on {images:,} {split} images...[/]"
            self._progress.update(self._task, description=label)

    def epoch_ended(self, record: dict[str, Any]) -> None:
        self._stop_bar()
        metrics = [format_metric(k, v) for k, v in record.items() if k not in (*TIMING_KEYS, *_POSITION_KEYS)]
        timing = f"({record.get('time_s', 0):.1f} s, {record.get('images_per_s', 0):,.0f} img/s)"
        self.console.print(f"Epoch {record['epoch']}  " + "  ".join(metrics) + f"  {timing}")

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]Warning:[/] {text}")

    def run_ended(self, result: dict[str, Any]) -> None:
        self._stop_bar()
        final = result.get("final") or {}
        if self.summary:
            shown = [format_metric(k, final[k]) for k in ("test_accuracy", "test_loss") if k in final]
            self.console.print(
                f"{result.get('status', '').capitalize()} in {result.get('duration_s', 0):.1f} s"
                + (": " + "  ".join(shown) if shown else "")
            )
        if self._start is not None and result.get("status") == "finished":
            for line in end_of_run_lines(self._start, final):
                self.console.print(line)

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


def end_of_run_lines(start: RunStart, final: dict[str, Any]) -> list[str]:
    """Where the curves are, what the final number means and what to try next."""
    lines = []
    curves = Path(start.run_dir) / "curves.png"
    if curves.is_file():
        lines.append(f"Curves: {curves}")
    accuracy, split = next(
        ((final[f"{s}_accuracy"], s) for s in ("test", "val") if f"{s}_accuracy" in final), (None, "")
    )
    if accuracy is None or not start.classes:
        return lines
    images = start.test_images if split == "test" else start.val_images
    lines.append(
        f"{split}_accuracy {accuracy:.2%}: the share of the {images:,} {split} images the model "
        f"classifies right (guessing would get {1 / start.classes:.0%})."
    )
    lines.append("Try next: " + "; ".join(_suggestions(start, accuracy)) + ".")
    return lines


def _suggestions(start: RunStart, accuracy: float) -> list[str]:
    if accuracy >= 0.9:
        return [
            f"cnnlab eval {start.run_dir} (confusion matrix, the images it gets wrong)",
            "--seeds 0-4 to see how much of the number is seed noise",
        ]
    tips = []
    if start.epochs < 10:
        tips.append(f"more epochs (--epochs {max(10, 3 * start.epochs)})")
    recipes = _recipes_for(start.dataset)
    if recipes:
        tips.append("a tuned recipe (" + ", ".join(f"--recipe {name}" for name in recipes) + ")")
    else:
        tips.append("a tuned recipe (`cnnlab recipes` lists them)")
    tips.append("a larger model (`cnnlab models`)")
    return tips


def _recipes_for(dataset: str) -> list[str]:
    from cnnlab.training.recipes import list_recipes

    return [r.name for r in list_recipes() if r.settings.get("dataset") == dataset][:2]


class ReporterPart(Part):
    """The run's :class:`Reporter` as a part: every hook of the run, handed on."""

    writes_files = True  # the console (and a caller's reporter) hear from rank 0 alone

    @classmethod
    def for_run(cls, trainer: Trainer) -> ReporterPart:
        return cls(trainer.reporter)

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self._figures_at = -math.inf

    def on_run_start(self, trainer: Trainer, resumed: bool) -> None:
        self.reporter.run_started(trainer.start_info(resumed))

    def on_epoch_start(self, trainer: Trainer, epoch: int, batches: int, start_batch: int) -> None:
        self.reporter.epoch_started(epoch, trainer.config.epochs, batches, start_batch)

    def on_step_end(self, trainer: Trainer, images: int, record: dict[str, Any] | None) -> None:
        stats = None
        if record is not None:
            stats = {k: v for k, v in record.items() if k not in _STEP_RECORD_KEYS}
        elif self.reporter.live_figures and time.perf_counter() - self._figures_at >= REFRESH_S:
            stats = trainer.window.peek(classify=not trainer.objective)
        if stats is not None:
            self._figures_at = time.perf_counter()
        self.reporter.step(images, stats)

    def on_evaluation_start(self, trainer: Trainer, split: str, images: int) -> None:
        self.reporter.evaluation_started(split, images)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.reporter.epoch_ended(record)

    def on_run_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        self.reporter.run_ended(result)


def format_metric(key: str, value: Any) -> str:
    """``test_accuracy 98.31%``, ``train_loss 0.0612``, ``test_loss 1.0003``."""
    from cnnlab.formatting import format_value

    return f"{key} {format_value(key, value)}"


def make_reporter(progress: bool | Reporter) -> Reporter:
    """``True``: the console reporter; ``False``: silence; a Reporter is used as given."""
    if isinstance(progress, Reporter):
        return progress
    return ConsoleReporter() if progress else Reporter()
