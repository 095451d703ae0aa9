"""What ``cnnlab eval`` and ``cnnlab predict`` compute for a trained run, as objects.

:func:`evaluate_run` and :func:`predict_files` are the work of those commands (and of
:func:`cnnlab.evaluate` / :func:`cnnlab.predict`): the CLI prints what they return, a notebook
shows it (``_repr_html_``: the confusion matrix, the per-class table, the image thumbnails).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cnnlab.analysis import images as image_files
from cnnlab.analysis import metrics
from cnnlab.analysis.metrics import Evaluation, ImagePrediction
from cnnlab.display import escape, figure_png, html_table, png_img, text_table
from cnnlab.errors import DataError

RunLike = str | os.PathLike[str]
PER_CLASS_COLUMNS = ["class", "precision", "recall", "f1", "images"]


@dataclass
class EvaluationReport:
    """A trained run measured on a split: the :class:`Evaluation`, its title, and the files written."""

    run: str
    checkpoint: str
    model: str | None
    dataset: str | None
    split: str
    evaluation: Evaluation
    images: torch.Tensor = field(repr=False)  # the split's uint8 images, for the mistakes figure
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.model} on {self.dataset} {self.split} ({self.evaluation.num_images} images)"

    @property
    def accuracy(self) -> float:
        return self.evaluation.accuracy

    def headline(self) -> str:
        e = self.evaluation
        return (
            f"{self.title}: accuracy {e.accuracy:.2%} ({e.num_correct} of {e.num_images}), loss {e.loss:.4f}"
        )

    def per_class_rows(self) -> list[list[Any]]:
        rows = [[s.name, s.precision, s.recall, s.f1, s.support] for s in self.evaluation.per_class]
        average = self.evaluation.macro_average()
        rows.append(["macro average", average["precision"], average["recall"], average["f1"], ""])
        return rows

    def to_dict(self) -> dict[str, Any]:
        """What ``eval.json`` holds (and ``cnnlab eval --json`` prints)."""
        return {
            "run": self.run,
            "checkpoint": self.checkpoint,
            "model": self.model,
            "dataset": self.dataset,
            "split": self.split,
            **self.evaluation.to_dict(),
            "files": {name: str(path) for name, path in self.files.items()},
        }

    def _repr_html_(self) -> str:
        from cnnlab.analysis.visualize import confusion_matrix_figure, mistakes_figure

        confusion = figure_png(confusion_matrix_figure(self.evaluation, f"Confusion matrix: {self.title}"))
        parts = [
            f"<div><b>{escape(self.headline())}</b></div>",
            "<div style='display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start'>",
            f"<div>{png_img(confusion, 'confusion matrix', '520px')}</div>",
            f"<div>{self._per_class_html()}</div>",
            "</div>",
        ]
        if self.evaluation.mistakes:
            mistakes = mistakes_figure(self.evaluation, self.images, f"Most confidently wrong: {self.title}")
            parts.append(png_img(figure_png(mistakes), "most confidently wrong"))
        return "".join(parts)

    def _per_class_html(self) -> str:
        return html_table(
            PER_CLASS_COLUMNS, self.per_class_rows(), title="Per class", right=PER_CLASS_COLUMNS[1:]
        )

    def __repr__(self) -> str:
        confusion = self.evaluation.confusion.tolist()
        classes = self.evaluation.classes
        matrix = text_table(
            ["true \\ predicted", *classes], [[c, *row] for c, row in zip(classes, confusion, strict=True)]
        )
        per_class = text_table(PER_CLASS_COLUMNS, self.per_class_rows(), title="Per class")
        return "\n\n".join([self.headline(), per_class, "Confusion matrix (rows: true class)\n" + matrix])


@dataclass
class ObjectiveReport:
    """An autoencoder, VAE or RBM measured on a split: the mean per image of each term of its
    training objective (what training reports as test_loss, test_recon, ...), sampling seeded."""

    run: str
    checkpoint: str
    model: str | None
    dataset: str | None
    split: str
    images: int
    objective: dict[str, float]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.model} on {self.dataset} {self.split} ({self.images} images)"

    def headline(self) -> str:
        from cnnlab.training.progress import format_metric

        shown = ", ".join(format_metric(name, value) for name, value in self.objective.items())
        return f"{self.title}: {shown} (each term of the training objective, mean per image)"

    def to_dict(self) -> dict[str, Any]:
        """What ``eval.json`` holds (``cnnlab eval --json`` adds the files)."""
        header = {
            "run": self.run,
            "checkpoint": self.checkpoint,
            "model": self.model,
            "dataset": self.dataset,
        }
        return {**header, "split": self.split, "images": self.images, "objective": self.objective}

    def _repr_html_(self) -> str:
        rows = [[name, value] for name, value in self.objective.items()]
        return html_table(["term", "mean per image"], rows, title=self.headline(), right=["mean per image"])

    def __repr__(self) -> str:
        return self.headline()


def evaluate_run(
    run: RunLike,
    split: str = "test",
    *,
    out: str | os.PathLike[str] | None = None,
    top: int = 16,
    batch_size: int | None = None,
    device: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    save: bool = True,
) -> EvaluationReport | ObjectiveReport:
    """Evaluate a run's model on ``split``; with ``save``, write ``eval.json`` (and a classifier's
    PNGs) to ``out`` (default ``RUN/eval-SPLIT``). A classifier gives an :class:`EvaluationReport`;
    an autoencoder, VAE or RBM an :class:`ObjectiveReport`."""
    from cnnlab.analysis.visualize import save_evaluation_figures
    from cnnlab.atomic import atomic_write_json
    from cnnlab.runs import load_trained
    from cnnlab.training.metrics import uses_objective

    trained = load_trained(run)
    dataset = metrics.load_split(run, trained, split, data_dir=data_dir)
    out = Path(out) if out is not None else default_output(run, f"eval-{split}")
    header = dict(run=str(run), checkpoint=str(trained.checkpoint), model=trained.model_name,
                  dataset=trained.dataset, split=split)  # fmt: skip
    if uses_objective(trained.model):
        terms = _objective_terms(trained, dataset, metrics.pick_device(device), batch_size)
        report: EvaluationReport | ObjectiveReport = ObjectiveReport(
            **header, images=len(dataset), objective=terms
        )
        if save:
            report.files["report"] = out / "eval.json"
            atomic_write_json(report.files["report"], report.to_dict())
        return report
    evaluation = metrics.evaluate_trained(
        trained, dataset, batch_size=batch_size, device=metrics.pick_device(device), top=top
    )
    report = EvaluationReport(**header, evaluation=evaluation, images=dataset.images)
    if save:
        report.files = save_evaluation_figures(evaluation, dataset.images, out, report.title)
        report.files["report"] = out / "eval.json"
        atomic_write_json(report.files["report"], report.to_dict())
    return report


def _objective_terms(trained: Any, dataset: Any, device: Any, batch_size: int | None) -> dict[str, float]:
    from cnnlab.training.evaluation import eval_loader, evaluate

    model = trained.model.to(device)
    loader = eval_loader(dataset, scale=trained.scale, device=device, batch_size=batch_size)
    return evaluate(model, loader, seed=0)


def default_output(run: RunLike, name: str) -> Path:
    """RUN/name for a run directory (or a checkpoint inside one); else beside the checkpoint file."""
    run = Path(run)
    directory = metrics.run_directory(run)
    return directory / name if directory is not None else run.parent / f"{run.stem}-{name}"


@dataclass
class Predictions:
    """The top classes of each image file :func:`predict_files` could read, most probable first."""

    run: str
    predictions: list[ImagePrediction]
    problems: list[image_files.ImageProblem] = field(default_factory=list)  # the paths not used

    def __len__(self) -> int:
        return len(self.predictions)

    def __getitem__(self, index: int) -> ImagePrediction:
        return self.predictions[index]

    def rows(self) -> list[list[str]]:
        return [
            [p.image.path.name,
             ", ".join(f"{c} {q:.3f}" for c, q in zip(p.classes, p.probabilities, strict=True)),
             p.image.description + (f"; {p.hint}" if p.hint else "")]
            for p in self.predictions
        ]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "predictions": [p.to_dict() for p in self.predictions],
            "errors": [{"file": str(p.path), "error": p.message} for p in self.problems],
        }

    def _repr_html_(self) -> str:
        cells = []
        for p, (name, top, how) in zip(self.predictions, self.rows(), strict=True):
            thumbnail = png_img(_thumbnail_png(p.image.pixels), name, "96px")
            cells.append(f"<tr><td>{thumbnail}</td><td><b>{escape(name)}</b><br>{escape(top)}"
                         f"<br><small>{escape(how)}</small></td></tr>")  # fmt: skip
        caption = f"<caption style='text-align:left'><b>Predictions of {escape(self.run)}</b></caption>"
        return f"<table>{caption}{''.join(cells)}</table>"

    def __repr__(self) -> str:
        return text_table(
            ["file", "top classes (probability)", "input"], self.rows(), title=f"Predictions of {self.run}"
        )


def predict_files(
    run: RunLike,
    images: Sequence[Any],
    *,
    top_k: int = 3,
    invert: bool = False,
    device: str = "auto",
) -> Predictions:
    """Classify images: files or folders of them, tensors, arrays or Pillow images (see
    :func:`cnnlab.analysis.images.read_inputs`); the paths that could not be used are in ``problems``."""
    from cnnlab.runs import load_trained

    trained = load_trained(run)
    converted, problems = image_files.read_inputs(list(images), trained.input_shape, invert=invert)
    predicted = metrics.predict_images(trained, converted, top_k=top_k, device=metrics.pick_device(device))
    return Predictions(str(run), predicted, problems)


def problems_error(problems: Sequence[image_files.ImageProblem], predicted: int) -> DataError:
    """The one error for the inputs that could not be used (the first one named)."""
    first = f" (first: {problems[0]})" if len(problems) > 1 else f": {problems[0]}"
    return DataError(
        f"{len(problems)} input(s) could not be used{first}; {predicted} image(s) were predicted."
    )


def _thumbnail_png(pixels: torch.Tensor) -> bytes:
    from PIL import Image

    array = pixels.permute(1, 2, 0).numpy()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    image = image.resize((96, 96 * image.height // max(image.width, 1)), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
