"""cnnlab: a lab for convolutional neural networks.

The Python API is the product; the ``cnnlab`` command is a thin shell over it. One function per
command, each returning an object that shows itself in Jupyter and Colab (tables, curves, figures)
and as text elsewhere::

    import cnnlab
    cnnlab.explain("resnet18", input="3x32x32")              # cnnlab explain
    data = cnnlab.load_dataset("mnist", "test", subset=500)   # cnnlab data show
    run = cnnlab.train("lenet5", "mnist", epochs=1)           # cnnlab train (seeds=[0, 1, 2]: a study)
    cnnlab.evaluate(run)                                      # cnnlab eval
    cnnlab.predict(run, ["digit.png"])                        # cnnlab predict
    cnnlab.visualize.filters(run)                             # cnnlab visualize --filters
    cnnlab.visualize.feature_maps(run, "digit.png")           # ... --feature-maps IMAGE
    cnnlab.visualize.gradcam(run, "digit.png")                # ... --gradcam IMAGE
    cnnlab.compare(run_a, run_b)                              # cnnlab runs compare
    cnnlab.experiment("fc-vs-cnn", quick=True)                # cnnlab experiment
    cnnlab.generate(vae_run)                                  # cnnlab generate

Bad input raises a one-line :class:`cnnlab.errors.CnnlabError`; in IPython and Jupyter it shows as
that line, not a traceback. ``import cnnlab`` does not import torch: the functions load on first use.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from cnnlab import errors  # noqa: F401  (cnnlab.errors.CnnlabError without another import; no torch)

try:
    __version__ = version("cnnlab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

# Names served by cnnlab.api (and the cnnlab.visualize module), imported on first use.
_API = ("compare", "evaluate", "experiment", "explain", "generate", "load_dataset", "predict")


def train(model=None, dataset=None, **settings):
    """Train ``model`` (a registry name or an ``nn.Module``) on ``dataset``; see :func:`cnnlab.api.train`.

    Example: ``run = cnnlab.train("lenet5", "mnist", epochs=1, subset=2000)``; in a notebook it
    shows a live progress bar, and ``run`` shows its history table and curves.
    """
    from cnnlab.api import train as _train

    return _train(model, dataset, **settings)


def sweep(name, model=None, dataset=None, **options):
    """Search hyper-parameters with Optuna, each trial a cnnlab run; see :mod:`cnnlab.sweeps`."""
    from cnnlab.sweeps import sweep as _sweep

    return _sweep(name, model, dataset, **options)


def __getattr__(name: str) -> Any:
    if name == "visualize":
        return importlib.import_module("cnnlab.visualize")
    if name not in _API:
        raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
    value = getattr(importlib.import_module("cnnlab.api"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = ["__version__", "sweep", "train", "visualize", *_API]


def _show_errors_in_ipython() -> None:
    from cnnlab.display import register_error_display

    register_error_display()


_show_errors_in_ipython()
