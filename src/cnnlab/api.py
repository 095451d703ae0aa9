"""The Python API at ``cnnlab.<name>``: one function per CLI command, each returning an object.

Every object shows itself in Jupyter and Colab (``_repr_html_``: tables, curves, figures) and as
plain text elsewhere. ``cnnlab/__init__.py`` imports this module on first use of one of its names,
so ``import cnnlab`` does not import torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.display import in_notebook
from cnnlab.errors import UsageError
from cnnlab.visualize import run_path

PathLike = str | os.PathLike[str]


def explain(
    model: Any,
    input: str | Sequence[int] | None = None,  # noqa: A002  (the CLI's --input)
    *,
    classes: int | None = None,
    depth: int | None = None,
    **model_args: Any,
) -> Any:
    """What every layer does to the tensor: shape, size formula, params, MACs, receptive field.

    ``model``: a registry name (``cnnlab models``), your own ``nn.Module`` (then ``input`` is
    required), or a list of names to compare side by side. ``input``: ``"3x32x32"`` or ``(3, 32, 32)``
    (default: the model's usual input). ``model_args``: options of the named model. Returns a
    :class:`~cnnlab.analysis.summary.ModelSummary` (a list: a ``Comparison``), which a notebook shows
    as the table of ``cnnlab explain``.

    Example::

        cnnlab.explain("vgg11", input="3x32x32", depth=1)
        cnnlab.explain(["vgg11", "googlenet", "resnet18"], input="3x32x32")
    """
    from cnnlab.analysis.summary import Comparison, parse_input_shape, summarize_model
    from cnnlab.analysis.summary import explain as explain_name

    shape = (
        parse_input_shape(input) if isinstance(input, str) else (tuple(input) if input is not None else None)
    )
    if isinstance(model, list | tuple):
        if model_args:
            raise UsageError("Model options apply to one named model; explain the models one at a time.")
        return Comparison([explain_name(name, shape, classes) for name in model])
    if isinstance(model, str):
        summary = explain_name(model, shape, classes, **model_args)
    else:
        if shape is None:
            raise UsageError(
                "Give the input shape of your model, e.g. cnnlab.explain(model, input='3x32x32')."
            )
        summary = summarize_model(model, shape, name=type(model).__name__)
    summary.shown_depth = depth
    return summary


def train(model: Any = None, dataset: Any = None, *, seeds: Sequence[int] | str | None = None,
          progress: Any = None, **settings: Any) -> Any:  # fmt: skip
    """Train ``model`` on ``dataset``; the function behind ``cnnlab train``.

    ``model``: a registry name, an ``nn.Module`` or a function returning one; ``dataset``: a name,
    an image folder or an :class:`~cnnlab.data.ImageDataset`; ``settings``: any ``cnnlab train``
    option (``epochs=3, lr=1e-3, subset=2000, recipe="..."``; see :mod:`cnnlab.training`).
    ``seeds`` (``[0, 1, 2]`` or ``"0-4"``): one run a seed, returned as a ``SeedStudy`` with the mean,
    std and 95% CI of each metric; else the :class:`~cnnlab.runs.Run`. ``progress``: by default a
    live bar in a notebook (:class:`~cnnlab.training.notebook_progress.NotebookReporter`), the rich bar
    in a terminal; False for none. ``init_from`` (transfer learning) takes a run's name or folder, a
    weights file, or a :class:`~cnnlab.runs.Run` itself.

    Example::

        run = cnnlab.train("lenet5", "mnist", epochs=1, subset=2000)
        run            # in a notebook: the history table and the curves
        run.final["test_accuracy"]
    """
    from cnnlab.training import parse_seeds, train_seeds
    from cnnlab.training import train as train_one

    reporter = default_progress() if progress is None else progress
    if settings.get("init_from") is not None and not isinstance(settings["init_from"], str):
        settings["init_from"] = str(run_path(settings["init_from"]))  # a Run, or a path object
    if seeds is None:
        return train_one(model, dataset, progress=reporter, **settings)
    if "seed" in settings:
        raise UsageError("Give either seed= or seeds=, not both.")
    seed_list = parse_seeds(seeds) if isinstance(seeds, str) else list(seeds)
    return train_seeds(model, dataset, seeds=seed_list, progress=reporter, **settings)


def default_progress() -> Any:
    """The notebook's live display inside Jupyter or Colab, else True (the console's bar)."""
    if in_notebook():
        from cnnlab.training.notebook_progress import NotebookReporter

        return NotebookReporter()
    return True


def evaluate(run: Any, split: str = "test", *, top: int = 16, batch_size: int | None = None,
             device: str = "auto", data_dir: PathLike | None = None, out: PathLike | None = None,
             save: bool = True) -> Any:  # fmt: skip
    """Accuracy, per-class precision/recall/F1, confusion matrix and the worst mistakes of a run
    (a :class:`~cnnlab.runs.Run`, its directory or name, or a checkpoint file) on ``split`` (test or
    val), as ``cnnlab eval``; ``save`` also writes eval.json and the PNGs to ``out`` (default
    RUN/eval-SPLIT). Returns an :class:`~cnnlab.analysis.reports.EvaluationReport`; for an
    autoencoder, VAE or RBM an :class:`~cnnlab.analysis.reports.ObjectiveReport` (the mean per image
    of each term of its training objective).

    Example::

        report = cnnlab.evaluate(run)
        report.accuracy, report.evaluation.most_confused
    """
    from cnnlab.analysis.reports import evaluate_run

    return evaluate_run(run_path(run), split, out=out, top=top, batch_size=batch_size, device=device,
                        data_dir=data_dir, save=save)  # fmt: skip


def predict(run: Any, images: Any, *, top_k: int = 3, invert: bool = False, device: str = "auto") -> Any:
    """Classify images with a trained run, as ``cnnlab predict``: image files or folders of them,
    a torch tensor ``(C, H, W)`` or a batch ``(N, C, H, W)``, a numpy array (also ``(H, W, C)``
    or ``(H, W)``), a Pillow image, a dataset of :func:`load_dataset`, or a list of these; pixels
    as uint8 0-255 or floats 0-1. Each image is converted to the model's input (size, channels) and
    the result says how. ``invert``: flip dark and light first. A path that cannot be used, or an
    array of the wrong shape, channel count or value range, raises DataError. Returns
    :class:`~cnnlab.analysis.reports.Predictions` (a notebook shows thumbnails and the top classes).

    Example::

        cnnlab.predict(run, ["my_digit.png", "more_digits/"], top_k=3)
        cnnlab.predict(run, cnnlab.load_dataset("mnist", "test", subset=8))
    """
    from cnnlab.analysis.reports import predict_files, problems_error

    inputs = list(images) if isinstance(images, list | tuple) else [images]
    predictions = predict_files(run_path(run), inputs, top_k=top_k, invert=invert, device=device)
    if predictions.problems:
        raise problems_error(predictions.problems, len(predictions))
    return predictions


def compare(first: Any, second: Any, *, metrics: Sequence[str] | None = None,
            runs_dir: PathLike | None = None) -> Any:  # fmt: skip
    """Do two configurations differ by more than seed noise? Welch's t-test on each final metric,
    as ``cnnlab runs compare``. Each side: a Run, a list of Runs, the SeedStudy of
    ``train(..., seeds=...)``, or a run's or group's name. Returns a
    :class:`~cnnlab.training.compare.RunComparison`.

    Example::

        a = cnnlab.train("tutorial-cnn", "mnist", seeds=[0, 1, 2], optimizer="sgd")
        b = cnnlab.train("tutorial-cnn", "mnist", seeds=[0, 1, 2], optimizer="adam")
        cnnlab.compare(a, b)
    """
    from cnnlab.training.compare import compare as compare_sides

    return compare_sides(first, second, metrics=list(metrics) if metrics else None, runs_dir=runs_dir)


def experiment(name: str, *, quick: bool = False, seeds: int | None = None, out: PathLike | None = None,
               runs_dir: PathLike | None = None, resume: PathLike | None = None,
               data_dir: PathLike | None = None, device: str = "auto", threads: int | None = None,
               progress: bool = False) -> Any:  # fmt: skip
    """Run one of the course's experiments (``cnnlab experiment list``), as ``cnnlab experiment``;
    it writes report.md and results.json. ``quick``: the short version. ``resume``: the folder of
    the same experiment, interrupted, to continue. Returns an ``ExperimentResult`` (a notebook
    shows its table and figures).

    Example::

        cnnlab.experiment("fc-vs-cnn", quick=True)
        cnnlab.experiment("fc-vs-cnn", quick=True, resume="runs/experiments/fc-vs-cnn-20261201-101500")
    """
    from cnnlab.experiments import run_experiment

    return run_experiment(name, quick=quick, seeds=seeds, out=out, runs_dir=runs_dir, resume=resume,
                          device=device, threads=threads, data_dir=str(data_dir) if data_dir else None,
                          progress=progress, say=print)  # fmt: skip


def load_dataset(name: PathLike, split: str = "train", **options: Any) -> Any:
    """A split of a named dataset (mnist, fashion-mnist, cifar10, cifar100) or of an image folder,
    in memory, as ``cnnlab data show`` reads it; ``options``: ``subset=N``, ``data_dir=``,
    ``download=False``, ... (see :func:`cnnlab.data.load_dataset`). A notebook shows it as a grid of
    samples with their class names.

    Example::

        cnnlab.load_dataset("mnist", "test", subset=500)
    """
    from cnnlab.data import load_dataset as load

    return load(name, split, **options)


def generate(run: Any, *, out: PathLike | None = None, count: int = 10, seed: int = 0,
             data_dir: PathLike | None = None) -> Any:  # fmt: skip
    """Figures of a trained autoencoder, VAE or RBM (reconstructions, samples, latent map,
    interpolation, features), as ``cnnlab generate``; PNGs in ``out`` (default RUN/generated).

    Example::

        vae = cnnlab.train("vae", "mnist", epochs=1, subset=2000)
        cnnlab.generate(vae)
    """
    from cnnlab.analysis.generative import generate as make_figures

    return make_figures(run_path(run), Path(out) if out else None, data_dir=data_dir, count=count, seed=seed)
