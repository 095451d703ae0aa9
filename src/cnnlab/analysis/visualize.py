"""Looking inside a trained CNN: its filters, its feature maps, Grad-CAM, and the figures of ``eval``.

The numbers come first (:func:`feature_maps`, :func:`grad_cam` return tensors); each figure
function turns them into a matplotlib :class:`~matplotlib.figure.Figure` built without pyplot, so
nothing depends on a display or on pyplot's global state; :func:`save_figure` writes it atomically.

Layers are named as in ``model.named_modules()`` (e.g. ``features.0``); the layers these tools
work on are the convolution-like ones (:func:`is_conv_like`: every ``nn.Conv2d``, and modules such
as LeNet-5's ``TableConv`` that convolve with a kernel they build, exposed by ``dense_weight()``),
listed in the order the forward pass runs them.

Grad-CAM (Selvaraju et al., 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization"): the feature maps ``A_k`` of a conv layer are weighted by the mean
gradient of the class score over each map, ``w_k = mean_ij d y_c / d A_k[i, j]``; the heat map is
``ReLU(sum_k w_k A_k)``, upsampled to the image and scaled to [0, 1].
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from cnnlab.analysis.metrics import Evaluation, check_classifier_output
from cnnlab.display import FIGURE_DPI, save_figure  # noqa: F401  (save_figure: visualize's public name too)
from cnnlab.errors import ModelError, UnknownNameError, UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from cnnlab.runs import TrainedModel

DPI = FIGURE_DPI
# Caps that keep a grid readable: beyond them the figure says how many were left out.
MAX_FILTERS = 64
MAX_WEIGHT_ROWS = 16  # deeper layers: output filters shown ...
MAX_WEIGHT_COLUMNS = 16  # ... times input channels shown
MAX_FEATURE_MAPS = 64
_ANNOTATE_CONFUSION_UP_TO = 20  # classes; with more, the counts no longer fit in the cells
_LABEL_CONFUSION_UP_TO = 40
_DIVERGING_NOTE = "blue < 0 < red, one scale for all"


# --- Layers and activations -------------------------------------------------------------------


def is_conv_like(module: nn.Module) -> bool:
    """An ``nn.Conv2d``, or a module that convolves with a (out, in, kh, kw) kernel it builds and
    exposes as ``dense_weight()`` (LeNet-5's C3, wired by the paper's Table I)."""
    return isinstance(module, nn.Conv2d) or callable(getattr(module, "dense_weight", None))


def kernel_of(module: nn.Module) -> torch.Tensor:
    """The (out, in/groups, kh, kw) kernel a conv-like layer convolves with."""
    return module.weight if isinstance(module, nn.Conv2d) else module.dense_weight()


def conv_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The model's convolution-like layers by name, in registration order."""
    layers = {name: module for name, module in model.named_modules() if is_conv_like(module)}
    if not layers:
        raise ModelError(f"{type(model).__name__} has no convolution layer, so there is nothing to show")
    return layers


def conv_layers_in_order(trained: TrainedModel) -> list[str]:
    """Names of the conv layers in the order one forward pass runs them (skips unused ones, such as
    GoogLeNet's auxiliary heads in eval mode)."""
    return list(_conv_output_shapes(trained))


def default_cam_layer(trained: TrainedModel) -> str:
    """Grad-CAM's default layer: the last conv layer whose output still has spatial extent (more
    than one position). A 1x1 output, such as LeNet-5's C5, can only give a uniform map."""
    shapes = _conv_output_shapes(trained)
    spatial = [name for name, shape in shapes.items() if shape[-2] * shape[-1] > 1]
    return (spatial or list(shapes))[-1]


def _conv_output_shapes(trained: TrainedModel) -> dict[str, tuple[int, ...]]:
    """{conv layer: output shape}, in the order one forward pass of a blank image runs them."""
    layers = conv_layers(trained.model)
    example = torch.zeros(tuple(trained.input_shape), dtype=torch.uint8)
    with torch.inference_mode(), recording(layers) as outputs:
        trained.model(_model_input(trained, example))
    return {name: tuple(output.shape) for name, output in outputs.items()}


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    """The conv layer called ``name``; an unknown name lists the valid ones."""
    layers = conv_layers(model)
    if name not in layers:
        raise UnknownNameError("layer", name, layers)
    return layers[name]


@contextlib.contextmanager
def recording(modules: dict[str, nn.Module], keep_graph: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Record each module's output during the forward passes inside the block, by name.

    The layers after a module see a copy of its output, so an in-place activation
    (``ReLU(inplace=True)``) cannot change what was recorded. With ``keep_graph`` the recorded
    tensors stay in the autograd graph (for gradients with respect to them).
    """
    outputs: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: object, output: torch.Tensor) -> torch.Tensor:
            outputs[name] = output if keep_graph else output.detach()
            return output.clone()

        return hook

    handles = [module.register_forward_hook(make_hook(name)) for name, module in modules.items()]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def feature_maps(
    trained: TrainedModel, pixels: torch.Tensor, layers: Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """The outputs (C, h, w) of the conv layers for one uint8 image (C, H, W), in execution order.

    ``layers`` picks some by name; by default every conv layer the forward pass runs.
    """
    modules = (
        {name: resolve_layer(trained.model, name) for name in layers}
        if layers
        else conv_layers(trained.model)
    )
    with torch.inference_mode(), recording(modules) as outputs:
        trained.model(_model_input(trained, pixels))
    _check_layers_ran(modules, outputs)
    return {name: output[0].cpu() for name, output in outputs.items()}


@dataclass(frozen=True)
class GradCam:
    """A Grad-CAM heat map and what it explains."""

    heatmap: torch.Tensor  # (H, W) in [0, 1], the image's size
    layer: str
    class_index: int  # the class explained
    probability: float  # the model's probability of that class
    predicted: int
    predicted_probability: float

    @property
    def has_evidence(self) -> bool:
        """False when every weighted map sums to <= 0 (the map is all zeros): nothing at this layer
        speaks for the class; an earlier layer (``layer=``) often does."""
        return bool(self.heatmap.max() > 0)


def grad_cam(
    trained: TrainedModel, pixels: torch.Tensor, *, class_index: int | None = None, layer: str | None = None
) -> GradCam:
    """Grad-CAM of one uint8 image (C, H, W) for ``class_index`` (default: the predicted class).

    ``layer`` defaults to the last conv layer the forward pass runs whose output is still spatial
    (:func:`default_cam_layer`): its maps are the most semantic ones that can still say where.
    """
    model = trained.model.eval()
    layer = layer or default_cam_layer(trained)
    module = resolve_layer(model, layer)
    # An input that requires grad builds the graph even when the model's weights are frozen.
    x = _model_input(trained, pixels).requires_grad_(True)
    with torch.enable_grad(), recording({layer: module}, keep_graph=True) as outputs:
        logits = model(x)
        check_classifier_output(logits, trained.classes)
        probabilities = logits.detach().softmax(dim=1)[0]
        predicted = int(probabilities.argmax())
        target = predicted if class_index is None else _check_class_index(class_index, logits.shape[1])
        _check_layers_ran({layer: module}, outputs)
        activations = outputs[layer]
        (gradients,) = torch.autograd.grad(logits[0, target], activations)
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=pixels.shape[-2:], mode="bilinear", align_corners=False)[0, 0].cpu()
    peak = float(cam.max())
    heatmap = cam / peak if peak > 0 else cam
    return GradCam(
        heatmap=heatmap,
        layer=layer,
        class_index=target,
        probability=float(probabilities[target]),
        predicted=predicted,
        predicted_probability=float(probabilities[predicted]),
    )


def _model_input(trained: TrainedModel, pixels: torch.Tensor) -> torch.Tensor:
    """One uint8 image (C, H, W) -> the float batch of one, on the model's device."""
    device = next(trained.model.parameters(), torch.empty(0)).device
    return trained.preprocess(pixels.unsqueeze(0).to(device))


def _check_layers_ran(modules: dict[str, nn.Module], outputs: dict[str, torch.Tensor]) -> None:
    silent = [name for name in modules if name not in outputs]
    if silent:
        raise ModelError(
            f"Layer {', '.join(silent)} did not run in the forward pass (an auxiliary head used only "
            "in training?), so it has no activations to show; pick another with --layer."
        )


def resolve_class(classes: Sequence[str], value: str) -> int:
    """A class given by name (``cat``) or by index (``3``) -> its index."""
    if value in classes:
        return list(classes).index(value)
    if value.lstrip("-").isdigit():
        return _check_class_index(int(value), len(classes))
    raise UnknownNameError("class", value, classes)


def _check_class_index(index: int, num_classes: int) -> int:
    if not 0 <= index < num_classes:
        raise UsageError(
            f"Class index {index} is out of range: the model has classes 0 to {num_classes - 1}."
        )
    return index


# --- Figures ----------------------------------------------------------------------------------


def filters_figure(name: str, conv: nn.Module) -> Figure:
    """The kernels of a conv layer.

    A layer that reads RGB (the first layer of a colour model) shows each filter as a colour image,
    each scaled to its own range, as in the AlexNet paper's figure. Other layers show one cell per
    (filter, input channel) pair on a shared blue-white-red scale centred on 0, so strong and dead
    kernels can be told apart.
    """
    weights = kernel_of(conv).detach().float().cpu()  # (out, in/groups, kh, kw)
    out_channels, in_channels, kh, kw = weights.shape
    if in_channels == 3:
        return _rgb_filters_figure(name, weights)
    if in_channels == 1:
        shown = weights[:MAX_FILTERS, 0]
        left_out = _left_out(out_channels, len(shown), "filters")
        title = f"{name}: {out_channels} filters of {kh}x{kw} on 1 input channel{left_out}"
        return _single_channel_filters_figure(shown, title)
    shown = weights[:MAX_WEIGHT_ROWS, :MAX_WEIGHT_COLUMNS]
    left_out = _left_out(out_channels, shown.shape[0], "filters") + _left_out(
        in_channels, shown.shape[1], "input channels"
    )
    title = f"{name}: {out_channels} filters x {in_channels} input channels, each {kh}x{kw}{left_out}"
    return _kernel_mosaic_figure(shown, title)


def feature_maps_figure(
    name: str, maps: torch.Tensor, pixels: torch.Tensor, caption: str, module: nn.Module | None = None
) -> Figure:
    """One layer's feature maps (C, h, w) after the input image, on one colour scale for all.

    A scale shared by the channels (not one per channel) keeps a silent channel looking silent.
    Maps with negative values get a diverging map centred on 0.
    """
    channels, height, width = maps.shape
    shown = maps[:MAX_FEATURE_MAPS].float().cpu()
    cells = len(shown) + 1  # the input comes first
    columns = min(8, cells)
    rows = math.ceil(cells / columns)
    cell = _cell_inches(max(height, width))
    figure = Figure(figsize=(max(cell * columns + 1.0, 6.0), 0.9 + cell * rows), layout="constrained")
    layer_kind = f" ({type(module).__name__} output, before any activation)" if module is not None else ""
    figure.suptitle(
        f"Feature maps of {name}{layer_kind}: {channels} channels of {height}x{width}"
        f"{_left_out(channels, len(shown), 'channels')}\n{caption}",
        fontsize=10,
    )
    input_axes, *map_axes = _axes_grid(figure, cells, columns)
    _show_image(input_axes, pixels)
    input_axes.set_title("input", fontsize=8, pad=2, fontweight="bold")
    limit = float(shown.abs().max()) or 1.0
    diverging = float(shown.min()) < 0
    for index, (axes, channel) in enumerate(zip(map_axes, shown, strict=True)):
        image = axes.imshow(
            channel.numpy(),
            cmap="RdBu_r" if diverging else "viridis",
            vmin=-limit if diverging else 0.0,
            vmax=limit,
            interpolation="nearest",
        )
        axes.set_title(f"channel {index}", fontsize=7, pad=2)
    figure.colorbar(image, ax=map_axes, shrink=0.9, aspect=30)
    return figure


def grad_cam_figure(pixels: torch.Tensor, result: GradCam, classes: Sequence[str], caption: str) -> Figure:
    """Three panels: the image, the Grad-CAM heat map, and the heat map laid over the image."""
    figure = Figure(figsize=(10.0, 4.0), layout="constrained")
    explained = classes[result.class_index]
    predicted = classes[result.predicted]
    subject = (
        f"predicted class '{explained}' (p = {result.probability:.3f})"
        if result.class_index == result.predicted
        else f"class '{explained}' (p = {result.probability:.3f}; predicted '{predicted}', "
        f"p = {result.predicted_probability:.3f})"
    )
    figure.suptitle(f"Grad-CAM at layer {result.layer} for {subject}\n{caption}", fontsize=10)
    image_axes, heat_axes, overlay_axes = figure.subplots(1, 3)
    _show_image(image_axes, pixels)
    image_axes.set_title("input", fontsize=9)
    heat = result.heatmap.cpu().numpy()
    heat_image = heat_axes.imshow(heat, cmap="jet", vmin=0, vmax=1, interpolation="bilinear")
    heat_axes.set_title(
        "where the evidence is (1 = most)" if result.has_evidence else "no positive evidence at this layer",
        fontsize=9,
    )
    _show_image(overlay_axes, pixels)
    overlay_axes.imshow(heat, cmap="jet", vmin=0, vmax=1, alpha=0.45, interpolation="bilinear")
    overlay_axes.set_title("overlay", fontsize=9)
    for axes in (image_axes, heat_axes, overlay_axes):
        _hide_ticks(axes)
    figure.colorbar(heat_image, ax=[image_axes, heat_axes, overlay_axes], shrink=0.8, aspect=25)
    return figure


def confusion_matrix_figure(evaluation: Evaluation, title: str) -> Figure:
    """The confusion matrix with class names; colour is the share of each true class (row), and
    each cell shows its count when there are few enough classes for the numbers to fit."""
    counts = evaluation.confusion.cpu().numpy()
    classes = evaluation.classes
    k = len(classes)
    side = min(max(5.0, 0.55 * k + 2.5), 22.0)
    figure = Figure(figsize=(side + 1.2, side), layout="constrained")
    axes = figure.add_subplot()
    row_share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = axes.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    axes.set_title(
        f"{title}\naccuracy {evaluation.accuracy:.2%} ({evaluation.num_correct} of {evaluation.num_images})",
        fontsize=11,
    )
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if k <= _LABEL_CONFUSION_UP_TO:
        # Long names are slanted so they do not overlap; digits stay upright.
        slant = {"rotation": 45, "ha": "right", "rotation_mode": "anchor"}
        axes.set_xticks(range(k), classes, fontsize=8, **(slant if max(map(len, classes)) > 3 else {}))
        axes.set_yticks(range(k), classes, fontsize=8)
    else:
        axes.set_xlabel("predicted class (index)")
        axes.set_ylabel("true class (index)")
    if k <= _ANNOTATE_CONFUSION_UP_TO:
        for true, predicted in np.ndindex(k, k):
            count = int(counts[true, predicted])
            if count:
                colour = "white" if row_share[true, predicted] > 0.5 else "black"
                axes.text(predicted, true, str(count), ha="center", va="center", fontsize=7, color=colour)
    return figure


def image_grid_figure(
    images: torch.Tensor,
    captions: Sequence[str],
    title: str,
    *,
    columns: int = 8,
    caption_colour: str = "black",
) -> Figure:
    """A titled grid of uint8 images (N, C, H, W), each with a (multi-line) caption above it."""
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    lines = max((caption.count("\n") + 1 for caption in captions), default=1)
    cell_width, cell_height = 1.5, 1.5 + 0.16 * lines
    figure = Figure(figsize=(max(cell_width * columns, 5.0), 0.6 + cell_height * rows), layout="constrained")
    figure.suptitle(title, fontsize=11)
    if count == 0:
        figure.text(0.5, 0.5, "(none)", ha="center", va="center")
        return figure
    for axes, pixels, caption in zip(_axes_grid(figure, count, columns), images, captions, strict=True):
        _show_image(axes, pixels)
        axes.set_title(caption, fontsize=7.5, color=caption_colour, pad=3)
    return figure


def mistakes_figure(evaluation: Evaluation, images: torch.Tensor, title: str) -> Figure:
    """The most confidently wrong images of an evaluation as a grid: index in the split, true class
    and its probability, predicted class and its probability."""
    mistakes = evaluation.mistakes
    classes = evaluation.classes
    captions = [
        f"#{m.index}\ntrue {classes[m.true]} (p {m.true_probability:.2f})\n"
        f"pred {classes[m.predicted]} (p {m.probability:.2f})"
        for m in mistakes
    ]
    shown = images[[m.index for m in mistakes]] if mistakes else images[:0]
    return image_grid_figure(shown, captions, title, caption_colour="darkred")


def save_evaluation_figures(
    evaluation: Evaluation, images: torch.Tensor, out_dir: str | Path, title: str
) -> dict[str, Path]:
    """Write ``confusion.png`` and ``mistakes.png`` (the most confidently wrong) into ``out_dir``.

    ``images`` are the evaluated split's uint8 images, in the order the evaluation saw them.
    """
    out_dir = Path(out_dir)
    return {
        "confusion_matrix": save_figure(
            confusion_matrix_figure(evaluation, f"Confusion matrix: {title}"), out_dir / "confusion.png"
        ),
        "most_confidently_wrong": save_figure(
            mistakes_figure(evaluation, images, f"Most confidently wrong: {title}"),
            out_dir / "mistakes.png",
        ),
    }


# --- Figure helpers ---------------------------------------------------------------------------


def _rgb_filters_figure(name: str, weights: torch.Tensor) -> Figure:
    out_channels, _, kh, kw = weights.shape
    shown = weights[:MAX_FILTERS]
    low = shown.amin(dim=(1, 2, 3), keepdim=True)
    high = shown.amax(dim=(1, 2, 3), keepdim=True)
    scaled = (shown - low) / (high - low).clamp_min(1e-12)
    columns = min(8, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure = Figure(figsize=(max(1.0 * columns, 5.0), 0.9 + 1.05 * rows), layout="constrained")
    figure.suptitle(
        f"{name}: {out_channels} RGB filters of {kh}x{kw}{_left_out(out_channels, len(shown), 'filters')}\n"
        "each filter stretched from its own minimum (black) to its maximum (bright)",
        fontsize=10,
    )
    for index, (axes, kernel) in enumerate(zip(_axes_grid(figure, len(shown), columns), scaled, strict=True)):
        axes.imshow(kernel.permute(1, 2, 0).numpy(), interpolation="nearest")
        axes.set_title(f"filter {index}", fontsize=7, pad=2)
    return figure


def _single_channel_filters_figure(kernels: torch.Tensor, title: str) -> Figure:
    """Kernels (N, kh, kw) of a layer that reads one channel, in a titled grid on one symmetric scale."""
    columns = min(8, len(kernels))
    rows = math.ceil(len(kernels) / columns)
    limit = float(kernels.abs().max()) or 1.0
    figure = Figure(figsize=(max(1.6 + 0.9 * columns, 5.5), 0.9 + 0.9 * rows), layout="constrained")
    figure.suptitle(f"{title}\n{_DIVERGING_NOTE}", fontsize=10)
    all_axes = _axes_grid(figure, len(kernels), columns)
    for index, (axes, kernel) in enumerate(zip(all_axes, kernels, strict=True)):
        image = axes.imshow(kernel.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axes.set_title(f"filter {index}", fontsize=7, pad=2)
    figure.colorbar(image, ax=all_axes, shrink=0.9, aspect=max(15, 2.5 * rows))
    return figure


def _kernel_mosaic_figure(weights: torch.Tensor, title: str) -> Figure:
    """Kernels (filters, channels, kh, kw) as one mosaic image: a row per filter, a column per input
    channel, white gaps between kernels, one symmetric scale. One image instead of hundreds of axes
    keeps the figure fast to draw for wide layers."""
    rows, columns, kh, kw = weights.shape
    mosaic = np.full((rows * (kh + 1) - 1, columns * (kw + 1) - 1), np.nan, dtype=np.float32)
    for row, column in np.ndindex(rows, columns):
        top, left = row * (kh + 1), column * (kw + 1)
        mosaic[top : top + kh, left : left + kw] = weights[row, column].numpy()
    limit = float(weights.abs().max()) or 1.0
    cell = 0.55 if kh <= 5 else 0.8
    figure = Figure(figsize=(max(1.8 + cell * columns, 5.5), 1.2 + cell * rows), layout="constrained")
    figure.suptitle(f"{title}\n{_DIVERGING_NOTE}", fontsize=10)
    axes = figure.add_subplot()
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    image = axes.imshow(mosaic, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    axes.set_xticks(
        [c * (kw + 1) + (kw - 1) / 2 for c in range(columns)], [str(c) for c in range(columns)], fontsize=7
    )
    axes.set_yticks(
        [r * (kh + 1) + (kh - 1) / 2 for r in range(rows)], [str(r) for r in range(rows)], fontsize=7
    )
    axes.tick_params(length=0)
    axes.set_xlabel("input channel")
    axes.set_ylabel("filter (output channel)")
    for spine in axes.spines.values():
        spine.set_visible(False)
    figure.colorbar(image, ax=axes, shrink=0.6, aspect=30)
    return figure


def _axes_grid(figure: Figure, cells: int, columns: int) -> list[Axes]:
    """``cells`` tick-less axes filled row by row in a grid ``columns`` wide; spare ones hidden."""
    rows = math.ceil(cells / columns)
    grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for spare in grid[cells:]:
        spare.set_axis_off()
    for axes in grid[:cells]:
        _hide_ticks(axes)
    return list(grid[:cells])


def _show_image(axes: Axes, pixels: torch.Tensor) -> None:
    """A uint8 image (C, H, W) as a person sees it: gray for one channel, colour for three."""
    array = pixels.cpu().numpy()
    small = max(array.shape[-2:]) < 96  # upscale tiny images with visible pixels, not blur
    interpolation = "nearest" if small else "antialiased"
    if array.shape[0] == 1:
        axes.imshow(array[0], cmap="gray", vmin=0, vmax=255, interpolation=interpolation)
    else:
        axes.imshow(array[:3].transpose(1, 2, 0), interpolation=interpolation)
    _hide_ticks(axes)


def _hide_ticks(axes: Axes) -> None:
    axes.set_xticks([])
    axes.set_yticks([])


def _cell_inches(pixels: int) -> float:
    # Small maps get ~1 inch so their pixels show; larger ones a bit more, capped.
    return min(1.0 + pixels / 64.0, 1.8)


def _left_out(total: int, shown: int, what: str) -> str:
    return f" (first {shown} of {total} {what} shown)" if shown < total else ""
