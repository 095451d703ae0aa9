"""Figures of a trained autoencoder, VAE or RBM: what it keeps, what it makes, how its code is laid out.

:func:`generate` writes, for a run of ``cnnlab train``, using the test split:

- ``reconstructions.png``: one test image a class; rows input | corrupted (denoising models) | output;
- ``samples.png``: the VAE's decodings of codes drawn from its prior N(0, I), or the RBM's Gibbs
  chains started from coin-flip noise, shown at growing step counts;
- ``latent_map.png``: the codes of the first test images in 2-D, coloured by class: the code itself
  when it is 2-d, else its first two principal components (SVD of the centred codes);
- ``interpolation.png``: decodings along straight lines between the codes of two test images;
- ``features.png``: the first layer's weights (encoder rows, RBM receptive fields) as images.

The numbers come first (:func:`reconstruction_rows`, :func:`latent_coordinates`,
:func:`interpolate`, :func:`gibbs_snapshots`): each returns tensors; the ``*_figure`` functions
draw them without pyplot. Every random draw uses one seeded ``torch.Generator``, so the same
run and seed give the same figures.

A model works here if it has the generative interface of :mod:`cnnlab.models.autoencoders`:
``input_scale``, ``input_shape``, ``encode``, ``decode``, ``corrupt``, ``features``, and
optionally ``sample`` (VAE) or ``run_chain`` (RBM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from cnnlab.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cnnlab.data import ImageDataset
    from cnnlab.runs import TrainedModel

CHAIN_STEPS = (1, 5, 20, 100, 500, 1000)  # the Gibbs steps at which the RBM's chains are shown
MAP_POINTS = 2000  # test images placed on the latent map
INTERPOLATION_STEPS = 10
MAX_FEATURES = 64
GENERATIVE_TASKS = ("autoencoder", "rbm")


# --- Numbers ----------------------------------------------------------------------------------


def to_unit(x: torch.Tensor, scale: str) -> torch.Tensor:
    """A batch on a model's input scale ("unit" or "symmetric") -> [0, 1] for display."""
    if scale == "symmetric":
        x = (x + 1) / 2
    elif scale != "unit":
        raise UsageError(f"Cannot show images on the {scale!r} scale; expected 'unit' or 'symmetric'.")
    return x.clamp(0, 1)


@torch.no_grad()
def reconstruction_rows(
    model: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """{"input", ["corrupted",] "output"}: each (N, C, H, W) in [0, 1].

    A denoising model reconstructs from the corrupted input (what it was trained to do).
    """
    rows = {"input": x}
    if getattr(model, "denoising", False):
        x = model.corrupt(x, generator)
        rows["corrupted"] = x
    rows["output"] = model(x)
    return {name: to_unit(images, model.input_scale) for name, images in rows.items()}


@dataclass(frozen=True)
class LatentMap:
    """2-D coordinates of codes, and how they were made."""

    coordinates: torch.Tensor  # (N, 2)
    code_size: int
    explained: float | None  # share of the codes' variance the two components hold (PCA only)

    @property
    def description(self) -> str:
        if self.explained is None:
            return f"the {self.code_size}-d code itself"
        share = f"{self.explained:.0%} of its variance"
        return f"first 2 principal components of the {self.code_size}-d code ({share})"


def latent_coordinates(codes: torch.Tensor) -> LatentMap:
    """The codes (N, k) themselves when k <= 2, else their projection on the first two principal
    components (SVD of the centred codes: deterministic, unlike a randomised PCA)."""
    codes = codes.double().flatten(1)
    size = codes.shape[1]
    if size <= 2:
        padded = torch.cat([codes, codes.new_zeros(len(codes), 2 - size)], dim=1)
        return LatentMap(padded.float(), size, None)
    centred = codes - codes.mean(0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    explained = float(singular[:2].pow(2).sum() / singular.pow(2).sum().clamp_min(1e-300))
    return LatentMap((centred @ vh[:2].T).float(), size, explained)


@torch.no_grad()
def interpolate(
    model: nn.Module, start: torch.Tensor, end: torch.Tensor, steps: int = INTERPOLATION_STEPS
) -> torch.Tensor:
    """Decodings (steps, C, H, W) in [0, 1] of codes on the line from ``start``'s code to ``end``'s."""
    codes = model.encode(torch.stack([start, end]))
    weights = torch.linspace(0, 1, steps, device=codes.device).unsqueeze(1)
    line = (1 - weights) * codes[0] + weights * codes[1]
    return to_unit(model.decode(line), model.input_scale)


@torch.no_grad()
def gibbs_snapshots(
    rbm: nn.Module, count: int, steps: Sequence[int] = CHAIN_STEPS, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``count`` Gibbs chains from coin-flip noise; p(v | h) at each of ``steps``.

    Returns (count, len(steps), C, H, W)."""
    device = next(rbm.parameters()).device
    state = torch.bernoulli(torch.full((count, rbm.visible_count), 0.5, device=device), generator=generator)
    shots, done = [], 0
    for target in sorted(steps):
        state, probs = rbm.run_chain(state, target - done, generator)
        done = target
        shots.append(probs.view(count, *rbm.input_shape))
    return torch.stack(shots, dim=1)


def class_examples(labels: torch.Tensor, count: int) -> list[int]:
    """Indices of the first image of each class in turn (0, 1, 2, ...), ``count`` in all."""
    chosen: list[int] = []
    classes = labels.unique().tolist()
    for round_index in range(count):
        for label in classes:
            matches = torch.nonzero(labels == label).flatten()
            if round_index < len(matches) and len(chosen) < count:
                chosen.append(int(matches[round_index]))
        if len(chosen) >= count:
            break
    return chosen


# --- Figures ----------------------------------------------------------------------------------


def tile(cells: torch.Tensor, pad: int = 2) -> np.ndarray:
    """Images (R, K, C, H, W) in [0, 1] -> one (R(H+pad)-pad, K(W+pad)-pad, C) array, white gaps."""
    rows, columns, channels, height, width = cells.shape
    canvas = torch.ones(channels, rows * (height + pad) - pad, columns * (width + pad) - pad)
    for r in range(rows):
        for c in range(columns):
            top, left = r * (height + pad), c * (width + pad)
            canvas[:, top : top + height, left : left + width] = cells[r, c].float().cpu()
    return canvas.permute(1, 2, 0).numpy()


def image_table_figure(
    cells: torch.Tensor, title: str, row_labels: Sequence[str] = (), column_labels: Sequence[str] = ()
) -> Figure:
    """A table of images (R, K, C, H, W) in [0, 1] with labelled rows and columns, in one image."""
    from matplotlib.figure import Figure

    rows, columns, _, height, width = cells.shape
    pad = max(1, height // 14)
    array = tile(cells, pad)
    inches = 0.55 if height <= 32 else 1.0
    figure = Figure(figsize=(max(inches * columns + 1.5, 5.0), inches * rows + 1.0), layout="constrained")
    axes = figure.add_subplot()
    if array.shape[2] == 1:
        axes.imshow(array[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        axes.imshow(array, interpolation="nearest")
    axes.set_yticks([r * (height + pad) + height / 2 for r in range(rows)] if row_labels else [])
    axes.set_yticklabels(list(row_labels), fontsize=8)
    axes.set_xticks([c * (width + pad) + width / 2 for c in range(columns)] if column_labels else [])
    axes.set_xticklabels(list(column_labels), fontsize=7)
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    figure.suptitle(title, fontsize=10)
    return figure


def grid_cells(images: torch.Tensor, columns: int) -> torch.Tensor:
    """(N, C, H, W) -> (R, columns, C, H, W), the last row filled with white."""
    count = len(images)
    rows = -(-count // columns)
    blank = images.new_ones((rows * columns - count, *images.shape[1:]))
    return torch.cat([images, blank]).view(rows, columns, *images.shape[1:])


def features_as_images(weights: torch.Tensor) -> torch.Tensor:
    """Weights (K, C, H, W) -> [0, 1], each on its own symmetric scale: grey 0, white +, black -."""
    limit = weights.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return weights / limit / 2 + 0.5


def latent_map_figure(latent: LatentMap, labels: torch.Tensor, classes: Sequence[str], title: str) -> Figure:
    """A scatter of the 2-D coordinates, one colour a class."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 6.0), layout="constrained")
    axes = figure.add_subplot()
    points = latent.coordinates.numpy()
    colours = _class_colours(len(classes))
    for index, name in enumerate(classes):
        mine = (labels == index).numpy()
        if mine.any():
            axes.scatter(points[mine, 0], points[mine, 1], s=5, alpha=0.7, color=colours[index], label=name)
    axes.legend(markerscale=3, fontsize=8, loc="best", title="class")
    axes.set_xlabel("component 1" if latent.explained is not None else "z1")
    axes.set_ylabel("component 2" if latent.explained is not None else "z2")
    figure.suptitle(f"{title}\n{latent.description}", fontsize=10)
    return figure


def _class_colours(count: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(count)]


# --- The command's work -----------------------------------------------------------------------


@dataclass
class GeneratedFigures:
    """What :func:`generate` wrote: one PNG a figure, and a line about each."""

    run: str
    model: str
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "model": self.model,
            "out_dir": str(self.out_dir),
            "figures": {
                name: {"file": str(path), "note": self.notes.get(name, "")}
                for name, path in self.files.items()
            },
        }

    def _repr_html_(self) -> str:
        """In a notebook: each figure with the line about it."""
        from cnnlab.display import escape, file_img

        parts = [f"<div><b>{escape(self.model)}</b>: figures in {escape(self.out_dir)}</div>"]
        for name, path in self.files.items():
            note = escape(self.notes.get(name, ""))
            parts.append(f"<div><b>{escape(name)}</b>: {note}</div>{file_img(path, name)}")
        return "".join(parts)

    def __repr__(self) -> str:
        lines = [f"{self.model}: figures in {self.out_dir}"]
        lines += [f"{name}: {path} ({self.notes.get(name, '')})" for name, path in self.files.items()]
        return "\n".join(lines)


def default_out_dir(checkpoint: Path) -> Path:
    """``RUN/generated`` for a checkpoint inside ``RUN/checkpoints/``, else beside the file."""
    parent = checkpoint.parent
    run_dir = parent.parent if parent.name == "checkpoints" else parent
    return run_dir / "generated"


@dataclass
class _Material:
    """What every figure of :func:`generate` draws from."""

    model: nn.Module
    label: str  # "vae (run-name)", the start of every title
    test: ImageDataset  # the first images of the test split
    x: torch.Tensor  # those images on the model's input scale
    picks: list[int]  # one test image a class, in turn
    generator: torch.Generator


def generate(
    run: str | Path,
    out_dir: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    count: int = 10,
    seed: int = 0,
    map_points: int = MAP_POINTS,
    chain_steps: Sequence[int] = CHAIN_STEPS,
) -> GeneratedFigures:
    """Write the figures of the module docstring for a trained autoencoder, VAE or RBM run."""
    from cnnlab.analysis.visualize import save_figure

    if count < 2:
        raise UsageError(f"--count must be at least 2 (the images a row); got {count}.")
    trained, material = _material(run, data_dir, count, max(map_points, count), seed)
    out = Path(out_dir) if out_dir is not None else default_out_dir(trained.checkpoint)
    result = GeneratedFigures(str(run), trained.model_name or "model", out)
    # In this order: the figures draw from one generator, so the order fixes what each one shows.
    makers = {
        "reconstructions": lambda: _reconstructions_figure(material),
        "samples": lambda: _samples_figure(material, chain_steps),
        "latent_map": lambda: _latent_map_figure(material),
        "interpolation": lambda: _interpolation_figure(material),
        "features": lambda: _features_figure(material),
    }
    for name, make in makers.items():
        made = make()
        if made is not None:
            figure, note = made
            result.files[name] = save_figure(figure, out / f"{name}.png")
            result.notes[name] = note
    return result


def _material(
    run: str | Path, data_dir: str | Path | None, count: int, points: int, seed: int
) -> tuple[TrainedModel, _Material]:
    """(the trained run, the material of its figures); a clear error for a run that has none."""
    from cnnlab.data import load_dataset, to_model_input
    from cnnlab.models import get_info
    from cnnlab.runs import load_trained

    trained = load_trained(run)
    name = trained.model_name or "model"
    task = get_info(name).task if trained.model_name else "unknown"
    if task not in GENERATIVE_TASKS:
        raise UsageError(
            f"{run} holds '{name}', a {task} model; `cnnlab generate` draws autoencoders, VAEs and RBMs. "
            "For a classifier's filters and feature maps use `cnnlab visualize`."
        )
    if not trained.dataset:
        raise UsageError(f"{run}'s checkpoint does not say which dataset it was trained on.")
    test = load_dataset(trained.dataset, "test", data_dir=data_dir, subset=points, progress=False)
    model = trained.model
    x = to_model_input(test.images, trained.mean, trained.std, model.input_scale)
    label = f"{name} ({Path(str(run)).name})"
    generator = torch.Generator().manual_seed(seed)
    return trained, _Material(model, label, test, x, class_examples(test.labels, count), generator)


def _reconstructions_figure(m: _Material) -> tuple[Figure, str]:
    rows = reconstruction_rows(m.model, m.x[m.picks], m.generator)
    error = float((rows["output"] - rows["input"]).pow(2).mean())
    cells = torch.stack(list(rows.values()))
    figure = image_table_figure(cells, f"{m.label}: reconstructions of test images", list(rows))
    return figure, f"{len(m.picks)} test images, one a class; MSE on [0, 1] of these: {error:.4f}"


def _samples_figure(m: _Material, chain_steps: Sequence[int]) -> tuple[Figure, str] | None:
    """RBM: Gibbs chains at growing step counts; VAE: decodings of prior draws; else None."""
    count = len(m.picks)
    if hasattr(m.model, "run_chain"):  # an RBM
        steps = sorted(set(chain_steps))
        cells = gibbs_snapshots(m.model, count, steps, m.generator)
        figure = image_table_figure(cells, f"{m.label}: samples", (), [f"step {s}" for s in steps])
        shown = ", ".join(map(str, steps))
        return figure, f"{count} Gibbs chains from coin-flip noise, p(v | h) after {shown} steps"
    if hasattr(m.model, "sample"):  # a VAE
        with torch.no_grad():
            images = to_unit(m.model.sample(count * count, m.generator), m.model.input_scale)
        figure = image_table_figure(grid_cells(images, count), f"{m.label}: samples")
        return figure, f"{count * count} decodings of z ~ N(0, I) (pixel probabilities)"
    return None


def _latent_map_figure(m: _Material) -> tuple[Figure, str]:
    with torch.no_grad():
        latent = latent_coordinates(m.model.encode(m.x))
    title = f"{m.label}: codes of {len(m.x)} test images"
    return latent_map_figure(latent, m.test.labels, m.test.classes, title), latent.description


def _interpolation_figure(m: _Material) -> tuple[Figure, str]:
    pairs = [(m.picks[i], m.picks[i + 1]) for i in range(0, len(m.picks) - 1, 2)]
    strips = torch.stack([interpolate(m.model, m.x[a], m.x[b]) for a, b in pairs])
    names = m.test.classes
    labels = [f"{names[m.test.labels[a]]} -> {names[m.test.labels[b]]}" for a, b in pairs]
    figure = image_table_figure(strips, f"{m.label}: decoded codes on a line between two test images", labels)
    return (
        figure,
        f"{len(pairs)} pairs of test images, {INTERPOLATION_STEPS} steps from one code to the other",
    )


def _features_figure(m: _Material) -> tuple[Figure, str]:
    weights = m.model.features().float().cpu()
    shown = features_as_images(weights[:MAX_FEATURES])
    cells = grid_cells(shown, min(8, len(shown)))
    figure = image_table_figure(cells, f"{m.label}: first-layer weights (grey 0, white +, black -)")
    return figure, f"first {len(shown)} of {len(weights)} units, each {tuple(weights.shape[1:])}"
