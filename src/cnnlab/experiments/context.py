"""What an experiment's ``run(ctx)`` works with: its size and seeds, the data, training over seeds,
comparisons, figures, and the two parts of the report it writes (results and answer).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.data import ImageDataset, load_dataset
from cnnlab.experiments.cells import TRAIN_EVAL_ACCURACY, Cell
from cnnlab.experiments.course import CourseCheck, check_reference
from cnnlab.experiments.registry import CellSpec, Experiment
from cnnlab.experiments.report import Report, format_summary, metric_title
from cnnlab.experiments.timing import record_throughput
from cnnlab.formatting import format_count
from cnnlab.runs.run import Run
from cnnlab.runs.stats import WelchTest, welch_test
from cnnlab.training import train_seeds

if TYPE_CHECKING:  # matplotlib costs a second to import: `cnnlab experiment list` needs none of it
    from matplotlib.figure import Figure


def run_name(label: str) -> str:
    """A cell's label as the stem of its runs' folder names: ``+ random crop`` -> ``random-crop``."""
    return re.sub(r"[^a-z0-9.]+", "-", label.lower()).strip("-.") or "cell"


class Context:
    """One run of one experiment. ``report`` holds the results section, ``answer`` the explanation."""

    def __init__(
        self,
        experiment: Experiment,
        directory: Path,
        *,
        quick: bool,
        seeds: list[int],
        data_dir: str | None = None,
        device: str = "auto",
        threads: int | None = None,
        progress: bool = True,
        say: Callable[[str], None] = lambda text: None,
        runs_dir: Path | None = None,
        resume: bool = False,
    ):
        self.experiment = experiment
        self.dir = Path(directory)
        # The cells' training runs: inside the experiment's folder, unless a runs folder was named.
        self.runs_dir = Path(runs_dir) if runs_dir is not None else self.dir / "runs"
        self.quick = quick
        self.resume = resume  # continue an interrupted experiment: its finished runs are kept as they are
        self.size = experiment.size(quick)
        self.plan = experiment.plan(self.size)
        self.seeds = list(seeds)
        self.data_dir, self.device, self.threads = data_dir, device, threads
        self.progress = progress
        self.say = say
        self.report = Report()
        self.answer = Report()
        self.cells: dict[str, Cell] = {}
        self.runs: dict[str, list[Run]] = {}  # each cell's runs, trained models included
        self.results: dict[str, Any] = {}  # the experiment's own numbers, saved in results.json
        self.comparisons: list[dict[str, Any]] = []
        self.datasets: dict[str, dict[str, str]] = {}  # name -> verification and location, for the report
        self._splits: dict[tuple[str, str], ImageDataset] = {}
        self._transformed: dict[tuple[str, int], tuple[ImageDataset, ImageDataset]] = {}

    # -- data ---------------------------------------------------------------------------------
    def dataset(self, name: str, split: str) -> ImageDataset:
        """A split of a named dataset, loaded once per experiment."""
        key = (name, split)
        if key not in self._splits:
            data = load_dataset(name, split, data_dir=self.data_dir, progress=self.progress)
            self._splits[key] = data
            self.datasets[name] = {"verification": data.verification, "location": data.location}
        return self._splits[key]

    def data(self, spec: CellSpec) -> tuple[ImageDataset, ImageDataset]:
        """The train and test splits a cell trains and is tested on (its transform applied)."""
        train, test = self.dataset(spec.dataset, "train"), self.dataset(spec.dataset, "test")
        if spec.transform is None:
            return train, test
        key = (spec.dataset, id(spec.transform))
        if key not in self._transformed:
            self._transformed[key] = (spec.transform(train), spec.transform(test))
        return self._transformed[key]

    # -- training -----------------------------------------------------------------------------
    def spec(self, label: str) -> CellSpec:
        """The planned cell called ``label``."""
        for spec in self.plan.cells:
            if spec.label == label:
                return spec
        raise KeyError(f"{self.experiment.name} plans no cell {label!r}")

    def train(self, spec: CellSpec | str) -> Cell:
        """Train a cell once per seed (:func:`cnnlab.training.train_seeds`) and keep its numbers."""
        spec = self.spec(spec) if isinstance(spec, str) else spec
        train_data, test_data = self.data(spec)
        position = f"[{len(self.cells) + 1}/{len(self.plan.cells)}]"
        self.say(f"{position} {spec.label}: {spec.model_name}, seeds {self.seeds}")
        study = train_seeds(
            spec.model,
            train_data,
            seeds=self.seeds,
            name=run_name(spec.label),
            test_data=test_data,
            runs_dir=str(self.runs_dir),
            progress=self.progress,
            device=self.device,
            threads=self.threads,
            resume=self.resume,
            **spec.settings,
        )
        first = study.runs[0]
        cell = Cell(
            label=spec.label,
            model=spec.model_name,
            dataset=train_data.name,
            settings=dict(spec.settings),
            parameters=sum(p.numel() for p in first.model.parameters()),
            seeds=list(self.seeds),
            runs=[_path_from(self.dir, run.dir) for run in study.runs],
            finals=[run.final for run in study.runs],
            histories=[run.history for run in study.runs],
            time_s=sum(float(run.result.get("duration_s", 0.0)) for run in study.runs),
            train_images=min(len(train_data), spec.settings.get("subset") or len(train_data)),
            test_images=min(len(test_data), spec.settings.get("test_subset") or len(test_data)),
        )
        self.cells[spec.label] = cell
        self.runs[spec.label] = study.runs
        speeds = [record["images_per_s"] for history in cell.histories for record in history]
        if speeds:
            record_throughput(spec, statistics.median(speeds), self.device, self.threads)
        return cell

    def evaluate_training_images(self, label: str) -> None:
        """Add each seed's accuracy on its training images in evaluation mode to the cell's metrics."""
        from cnnlab.data import BatchLoader
        from cnnlab.training import evaluate

        cell = self.cells[label]
        train, _ = self.data(self.spec(label))
        train = train.subset(cell.train_images)
        for final, run in zip(cell.finals, self.runs[label], strict=True):
            scale = getattr(run.model, "input_scale", "standardized")
            metrics = evaluate(run.model, BatchLoader(train, 512, shuffle=False, scale=scale))
            final[TRAIN_EVAL_ACCURACY] = metrics["accuracy"]

    def train_all(self, *, evaluate_training_images: bool = False) -> list[Cell]:
        """Every planned cell, in plan order; ``evaluate_training_images``: then each one's
        accuracy on its training images in evaluation mode too (:meth:`evaluate_training_images`),
        the other side of an overfitting gap."""
        cells = [self.train(spec) for spec in self.plan.cells]
        if evaluate_training_images:
            for cell in cells:
                self.evaluate_training_images(cell.label)
        return cells

    # -- numbers ------------------------------------------------------------------------------
    def compare(self, a: str, b: str, metric: str = "test_accuracy") -> WelchTest:
        """Welch's test of cell ``a`` against cell ``b`` on ``metric``; recorded for results.json."""
        comparison = welch_test(self.cells[a].values(metric), self.cells[b].values(metric))
        self.comparisons.append({"cell_a": a, "cell_b": b, "metric": metric, **comparison.to_dict()})
        return comparison

    def course_checks(self) -> list[CourseCheck]:
        """The experiment's course numbers against the cells trained so far."""
        return [
            check_reference(reference, self.cells[reference.cell].values(reference.metric))
            for reference in self.experiment.references
            if reference.cell in self.cells
        ]

    def results_table(self, cells: list[Cell], metrics: list[str], report: Report | None = None) -> None:
        """The standard table: a row a cell, ``mean ± std`` over seeds of each metric, parameters, time."""
        columns = ["cell", *(metric_title(m) for m in metrics), "parameters", "seeds", "training time"]
        rows = [
            [
                cell.label,
                *(format_summary(cell.summary(m), m) for m in metrics),
                format_count(cell.parameters),
                str(len(cell.seeds)),
                f"{cell.time_s:.1f} s",
            ]
            for cell in cells
        ]
        (report or self.report).table(columns, rows)

    # -- figures ------------------------------------------------------------------------------
    def figure(self, filename: str, figure: Figure, caption: str, report: Report | None = None) -> Path:
        """Save ``figure`` beside report.md and embed it in ``report`` (default: the results)."""
        from cnnlab.analysis.visualize import save_figure

        path = save_figure(figure, self.dir / filename)
        (report or self.report).image(filename, caption)
        return path


def _path_from(folder: Path, path: Path) -> str:
    """``path`` relative to ``folder`` when it lies inside it (the usual ``runs/...``), else absolute
    (the runs of ``--runs-dir`` with ``--out``)."""
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path.resolve())
