"""``cnnlab.visualize``: look inside a trained CNN, as ``cnnlab visualize`` does, from Python.

Each function takes RUN (a run directory or name of ``cnnlab train``, a checkpoint file, or the
:class:`~cnnlab.runs.Run` that :func:`cnnlab.train` returned) and returns
:class:`~cnnlab.display.Picture` s: shown inline in a notebook, written with ``.save(path)``::

    import cnnlab
    run = cnnlab.train("lenet5", "mnist", epochs=1, subset=2000)
    cnnlab.visualize.filters(run)                      # the first conv layer's kernels
    cnnlab.visualize.feature_maps(run, "digit.png")    # every conv layer's activations
    cnnlab.visualize.gradcam(run, "digit.png", class_name="7")

The figures are those of :mod:`cnnlab.analysis.visualize`; an image file is converted to the
model's input (size, channels) the way ``cnnlab predict`` does it, and ``invert=True`` flips dark
and light first (a digit drawn dark on white paper, for an MNIST model).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cnnlab.display import Gallery, Picture

__all__ = ["feature_maps", "filters", "gradcam"]

RunLike = Any  # str | os.PathLike | cnnlab.runs.Run | cnnlab.runs.TrainedModel
ImageLike = Any  # a file path, a tensor (C, H, W), a numpy array, a Pillow image


def filters(run: RunLike, layer: str | None = None) -> Picture:
    """The kernels of a conv layer (default: the first one the forward pass runs).

    Example: ``cnnlab.visualize.filters(run, layer="features.3")``.
    """
    from cnnlab.analysis import visualize

    trained = _trained(run)
    name = layer or visualize.conv_layers_in_order(trained)[0]
    figure = visualize.filters_figure(name, visualize.resolve_layer(trained.model, name))
    return Picture(f"filters-{name}", figure, label=f"filters of {name}")


def feature_maps(
    run: RunLike, image: ImageLike, layer: str | None = None, *, invert: bool = False
) -> Gallery:
    """Each conv layer's activations for one image (a file, or an image in memory as
    :func:`cnnlab.predict` takes it), or only ``layer``'s: one Picture a layer.

    Example: ``cnnlab.visualize.feature_maps(run, "digit.png", layer="conv1")``.
    """
    from cnnlab.analysis import metrics, visualize

    trained = _trained(run)
    converted = _read(image, trained, invert)
    (prediction,) = metrics.predict_images(trained, [converted], top_k=1)
    caption = (
        f"{converted.path.name}, predicted '{prediction.classes[0]}' (p = {prediction.probabilities[0]:.3f})"
    )
    maps = visualize.feature_maps(trained, converted.pixels, [layer] if layer else None)
    gallery = Gallery()
    for name, activations in maps.items():
        module = visualize.resolve_layer(trained.model, name)
        figure = visualize.feature_maps_figure(name, activations, converted.pixels, caption, module)
        notes = [f"{converted.path.name}: {converted.description}"]
        stem = f"feature-maps-{converted.path.stem}-{name}"
        gallery.append(Picture(stem, figure, notes, label=f"feature maps of {name}"))
    return gallery


def gradcam(
    run: RunLike,
    image: ImageLike,
    class_name: str | int | None = None,
    layer: str | None = None,
    *,
    invert: bool = False,
) -> Picture:
    """A Grad-CAM heat map over one image (a file or in memory): where the evidence for
    ``class_name`` (a name or an index; default: the predicted class) is, at ``layer`` (default: the
    last conv layer).

    Example: ``cnnlab.visualize.gradcam(run, "cat.jpg", class_name="cat")``.
    """
    from cnnlab.analysis import visualize

    trained = _trained(run)
    converted = _read(image, trained, invert)
    class_index = (
        visualize.resolve_class(trained.classes, str(class_name)) if class_name is not None else None
    )
    result = visualize.grad_cam(trained, converted.pixels, class_index=class_index, layer=layer)
    figure = visualize.grad_cam_figure(converted.pixels, result, trained.classes, converted.path.name)
    notes = [
        f"{converted.path.name}: {converted.description}",
        f"Grad-CAM for class '{trained.classes[result.class_index]}' (p = {result.probability:.3f}); "
        f"predicted '{trained.classes[result.predicted]}' (p = {result.predicted_probability:.3f})",
    ]
    if not result.has_evidence:
        notes.append(
            f"Nothing at layer {result.layer} speaks for this class; try an earlier one (layer=, --layer)."
        )
    picture = Picture(f"gradcam-{converted.path.stem}", figure, notes, label=f"Grad-CAM at {result.layer}")
    picture.result = result  # the numbers behind the figure (heat map, class, probabilities)
    return picture


def run_path(run: RunLike) -> Path:
    """The path of RUN: a :class:`~cnnlab.runs.Run`'s directory, a path as given, or the directory
    of a run named in the runs directory (``$CNNLAB_RUNS`` or ./runs)."""
    from cnnlab.runs.rundir import RunDir

    directory = getattr(run, "dir", None)
    if directory is not None:
        return Path(directory)
    path = Path(run)
    return path if path.exists() else RunDir.find(str(run)).root


def _trained(run: RunLike) -> Any:
    from cnnlab.runs import TrainedModel, load_trained

    return run if isinstance(run, TrainedModel) else load_trained(run_path(run))


def _read(image: Any, trained: Any, invert: bool) -> Any:
    """One image (a file, or a tensor, array or Pillow image) as the model's input."""
    from cnnlab.analysis import images as image_files
    from cnnlab.errors import DataError

    if isinstance(image, str | os.PathLike):
        try:
            return image_files.read_image(image, trained.input_shape, invert=invert)
        except DataError as exc:
            raise DataError(f"{image}: {exc}") from exc
    converted, _ = image_files.read_inputs([image], trained.input_shape, invert=invert)
    if len(converted) != 1:
        raise DataError(f"Give one image here, not a batch of {len(converted)}: e.g. images[0].")
    return converted[0]
