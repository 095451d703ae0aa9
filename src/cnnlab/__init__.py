"""cnnlab: a lab for convolutional neural networks.

The Python API is the product; the ``cnnlab`` command is a thin shell over it::

    import cnnlab
    run = cnnlab.train("lenet5", "mnist", epochs=1)
    print(run.history[-1])
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cnnlab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"


def train(model=None, dataset=None, **settings):
    """Train ``model`` (a registry name or an ``nn.Module``) on ``dataset``:
    :func:`cnnlab.training.api.train`."""
    from cnnlab.training.api import train as _train

    return _train(model, dataset, **settings)


__all__ = ["__version__", "train"]
