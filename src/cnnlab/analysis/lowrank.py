"""Low-rank approximation with the SVD: how few numbers an image, or a dataset, really needs.

A matrix A = U S V^T; keeping the k largest singular values gives A_k, the best rank-k
approximation in the Frobenius norm (Eckart-Young), stored in k (m + n + 1) numbers instead of m n.

Two uses, one code path:

- **An image**: each channel is an H x W matrix.
- **A dataset**: the images are the rows of an N x (C H W) matrix.

The matrix is centred first (its column means subtracted and kept: for a dataset the mean image, so
this is PCA), because the mean alone holds most of the squared values of any non-negative data,
noise included, and would make everything look "low rank". So:

- ``energy`` of the first k components = sum of their squared singular values / the sum of all
  (the fraction of the variance they explain);
- ``relative_error`` = ||A - (mean + A_k)||_F / ||A||_F, on the original (uncentred) values;
- ``compression_ratio`` = values in A / values stored (k left and right singular vectors and
  singular values, plus the column means).

The claim "structured data is low rank" is checked against controls with the same values but no
structure, each given the same treatment:

- ``shuffled``: a dataset's rows each permuted by their own random permutation (every image keeps
  its pixel values, but where they sit is random, so the correlations between pixels that images
  share are gone); an image's pixels permuted by one random permutation of all positions.
- ``same shuffle`` (datasets only): one permutation applied to every image. This only reorders
  the columns, and the singular values of a matrix do not depend on the order of its columns, so
  the numbers equal the data's exactly: the SVD sees correlations between pixels, not neighbourhoods.
- ``noise``: i.i.d. Gaussian values with the matrix's mean and standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cnnlab.errors import DataError, UsageError
from cnnlab.formatting import format_shape

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cnnlab.analysis.images import ConvertedImage

ENERGY_FRACTIONS = (0.90, 0.95, 0.99)
DEFAULT_RANKS = (1, 5, 20, 50)
DATASET_LIMIT = 2000  # images in a dataset's matrix: MNIST's takes a few seconds on one CPU core
MAX_IMAGE_SIDE = 1024  # larger image files are shrunk to this longest side first
# Pillow modes that hold one channel; every other mode is read as RGB.
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")


@dataclass(frozen=True)
class Spectrum:
    """The singular values of one (centred) matrix, or a batch of them (one per channel)."""

    label: str
    singular_values: torch.Tensor  # (B, r), descending in each row
    total_squares: float  # ||A||_F^2 of the uncentred matrices, for relative errors

    @property
    def energy(self) -> torch.Tensor:
        """Cumulative energy: entry k-1 is the fraction held by the first k components (all channels)."""
        squares = self.singular_values.double().pow(2).sum(0)
        return squares.cumsum(0) / squares.sum().clamp_min(1e-300)

    def rank_for(self, fraction: float) -> int:
        """The smallest k whose first k components hold ``fraction`` of the energy."""
        energy = self.energy
        reached = torch.nonzero(energy >= fraction - 1e-12)
        return int(reached[0]) + 1 if len(reached) else len(energy)

    def relative_error(self, rank: int) -> float:
        """||A - (mean + A_rank)||_F / ||A||_F from the discarded singular values alone."""
        tail = self.singular_values[:, rank:].double().pow(2).sum()
        return float(tail.sqrt() / max(self.total_squares, 1e-300) ** 0.5)


@dataclass(frozen=True)
class RankRow:
    """One row of the table: a rank, what it costs, and how well it does on data and controls."""

    rank: int
    compression_ratio: float
    relative_error: float
    control_errors: dict[str, float]


@dataclass
class LowRankReport:
    """What :func:`image_low_rank` and :func:`dataset_low_rank` return."""

    kind: str  # "image" or "dataset"
    source: str
    matrix_shape: tuple[int, ...]  # (B, m, n): B channels of m x n, or 1 x N x D
    image_shape: tuple[int, int, int]  # (C, H, W) of one image
    rows: list[RankRow]
    spectra: list[Spectrum]  # the data first, then the controls
    examples: torch.Tensor  # (n, C, H, W) in [0, 1]: originals shown in the figure
    reconstructions: dict[int, torch.Tensor]  # rank -> (n, C, H, W), clamped to [0, 1]
    fractions: tuple[float, ...] = ENERGY_FRACTIONS
    notes: list[str] = field(default_factory=list)

    def energy_ranks(self) -> dict[str, dict[str, int]]:
        """{label: {"90%": k, ...}} for the data and every control."""
        return {s.label: {_percent(f): s.rank_for(f) for f in self.fractions} for s in self.spectra}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "matrix_shape": list(self.matrix_shape),
            "image_shape": list(self.image_shape),
            "centred": True,
            "ranks": [
                {
                    "rank": row.rank,
                    "compression_ratio": row.compression_ratio,
                    "relative_error": row.relative_error,
                    **{
                        f"{label.replace(' ', '_')}_relative_error": error
                        for label, error in row.control_errors.items()
                    },
                }
                for row in self.rows
            ],
            "energy_ranks": self.energy_ranks(),
            "singular_values": self.spectra[0].singular_values.tolist(),
            "notes": list(self.notes),
        }


def low_rank(
    target: str | Path,
    ranks: str | Sequence[int] = DEFAULT_RANKS,
    *,
    split: str = "test",
    limit: int = DATASET_LIMIT,
    data_dir: str | Path | None = None,
    seed: int = 0,
) -> LowRankReport:
    """An image file (at its own size, colour kept) or a dataset (name or image folder: the first
    ``limit`` images of ``split``), analysed as in the module docstring."""
    ranks = parse_ranks(ranks)
    from cnnlab.analysis.images import IMAGE_SUFFIXES

    path = Path(target)
    if path.is_file():
        converted = read_native_image(path)
        report = image_low_rank(converted.pixels, ranks, seed=seed, source=path.name)
        report.notes.extend(converted.steps)
        return report
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise DataError(f"No image file {path}. Check the path, or give a dataset name such as mnist.")
    if limit < 2:
        raise UsageError(f"--limit must be at least 2 images; got {limit}.")
    from cnnlab.data import load_dataset

    dataset = load_dataset(str(target), split, data_dir=data_dir, subset=limit, progress=False)
    source = f"{dataset.name} {dataset.split} (first {len(dataset)} images)"
    return dataset_low_rank(dataset.images, ranks, seed=seed, source=source)


def read_native_image(path: Path) -> ConvertedImage:
    """An image file at its own size (shrunk to :data:`MAX_IMAGE_SIDE`), grayscale or RGB as stored."""
    from PIL import Image, UnidentifiedImageError

    from cnnlab.analysis.images import read_image

    try:
        with Image.open(path) as image:
            (width, height), mode = image.size, image.mode
            if image.getexif().get(0x0112) in (5, 6, 7, 8):  # stored sideways: read_image turns it
                width, height = height, width
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path} is not an image file that can be read ({exc}).") from exc
    shrink = min(1.0, MAX_IMAGE_SIDE / max(width, height))
    shape = (1 if mode in GRAY_MODES else 3, max(1, round(height * shrink)), max(1, round(width * shrink)))
    return read_image(path, shape)


def parse_ranks(text: str | Sequence[int]) -> list[int]:
    """ "1,5,20" -> [1, 5, 20]; every rank a positive integer."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        ranks = [int(str(item).strip()) for item in items if str(item).strip()]
    except ValueError as exc:
        raise UsageError(
            f"--ranks takes positive integers separated by commas, e.g. 1,5,20,50; got {text!r}."
        ) from exc
    if not ranks or min(ranks) < 1:
        raise UsageError(
            f"--ranks takes positive integers separated by commas, e.g. 1,5,20,50; got {text!r}."
        )
    return sorted(set(ranks))


def centre(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(matrices minus their column means, the column means) for a batch (B, m, n)."""
    means = matrices.mean(dim=-2, keepdim=True)
    return matrices - means, means


def low_rank_approximations(matrices: torch.Tensor, ranks: Sequence[int]) -> dict[int, torch.Tensor]:
    """mean + best rank-k approximation of each centred matrix of a batch (B, m, n), for every k."""
    centred, means = centre(matrices.double())
    u, s, vh = torch.linalg.svd(centred, full_matrices=False)
    return {k: means + (u[..., :k] * s[..., None, :k]) @ vh[..., :k, :] for k in ranks}


def spectrum(label: str, matrices: torch.Tensor) -> Spectrum:
    """The singular values of the centred matrices (B, m, n)."""
    matrices = matrices.double()
    values = torch.linalg.svdvals(centre(matrices)[0])
    return Spectrum(label, values, float(matrices.pow(2).sum()))


def compression_ratio(matrix_shape: Sequence[int], rank: int) -> float:
    """Values of B m x n matrices over the values kept: k (m + n + 1) per matrix plus n means."""
    _, rows, columns = matrix_shape
    return rows * columns / (rank * (rows + columns + 1) + columns)


def image_low_rank(
    image: torch.Tensor, ranks: Sequence[int] = DEFAULT_RANKS, *, seed: int = 0, source: str = "image"
) -> LowRankReport:
    """Each channel of one image (C, H, W; uint8 or float in [0, 1]) approximated at each rank."""
    pixels = _unit(image)
    ranks = _valid_ranks(ranks, min(pixels.shape[1:]))
    generator = torch.Generator().manual_seed(seed)
    shuffled = shuffle_positions(pixels, generator)
    return _report(
        "image",
        source,
        pixels,
        [("shuffled", shuffled), ("noise", _noise_like(pixels, generator))],
        ranks,
        examples=pixels.unsqueeze(0),
        example_rows=None,
    )


def dataset_low_rank(
    images: torch.Tensor,
    ranks: Sequence[int] = DEFAULT_RANKS,
    *,
    seed: int = 0,
    source: str = "dataset",
    examples: int = 8,
) -> LowRankReport:
    """The images (N, C, H, W; uint8 or float in [0, 1]) as the rows of one N x CHW matrix."""
    pixels = _unit(images)
    count = len(pixels)
    if count < 2:
        raise UsageError("A dataset's low-rank analysis needs at least 2 images.")
    rows = pixels.flatten(1).unsqueeze(0)  # (1, N, D)
    ranks = _valid_ranks(ranks, min(rows.shape[1:]))
    generator = torch.Generator().manual_seed(seed)
    shared_order = torch.randperm(rows.shape[-1], generator=generator)
    controls = [
        ("shuffled", shuffle_each_row(rows, generator)),
        ("same shuffle", rows[..., shared_order]),
        ("noise", _noise_like(rows, generator)),
    ]
    shown = min(examples, count)
    return _report(
        "dataset",
        source,
        rows,
        controls,
        ranks,
        examples=pixels[:shown],
        example_rows=shown,
        image_shape=tuple(pixels.shape[1:]),
    )


def shuffle_each_row(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each row of (..., N, D) permuted by its own random permutation: its values kept, their order lost."""
    orders = torch.rand(rows.shape, generator=generator).argsort(dim=-1)
    return rows.gather(-1, orders)


def shuffle_positions(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An image (C, H, W) with its pixel positions permuted at random, the same way in every channel."""
    order = torch.randperm(image.shape[-2] * image.shape[-1], generator=generator)
    return image.flatten(1)[:, order].view_as(image)


def _report(
    kind: str,
    source: str,
    matrices: torch.Tensor,
    controls: list[tuple[str, torch.Tensor]],
    ranks: list[int],
    *,
    examples: torch.Tensor,
    example_rows: int | None,
    image_shape: tuple[int, int, int] | None = None,
) -> LowRankReport:
    spectra = [spectrum("data", matrices)] + [spectrum(label, m) for label, m in controls]
    data = spectra[0]
    image_shape = image_shape or tuple(matrices.shape)
    approximations = low_rank_approximations(matrices, ranks)
    if example_rows is None:  # an image: the channels are the matrices
        reconstructions = {k: a.float().clamp(0, 1).unsqueeze(0) for k, a in approximations.items()}
    else:  # a dataset: the first rows are the example images
        reconstructions = {
            k: a[0, :example_rows].float().clamp(0, 1).view(-1, *image_shape)
            for k, a in approximations.items()
        }
    rows = [
        RankRow(
            rank=k,
            compression_ratio=compression_ratio(matrices.shape, k),
            relative_error=data.relative_error(k),
            control_errors={s.label: s.relative_error(k) for s in spectra[1:]},
        )
        for k in ranks
    ]
    return LowRankReport(
        kind=kind,
        source=source,
        matrix_shape=tuple(matrices.shape),
        image_shape=image_shape,
        rows=rows,
        spectra=spectra,
        examples=examples,
        reconstructions=reconstructions,
    )


def _unit(images: torch.Tensor) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images.double() / 255.0
    return images.double()


def _noise_like(matrices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(matrices.shape, generator=generator, dtype=torch.float64)
    return matrices.mean() + matrices.std() * noise


def _valid_ranks(ranks: Sequence[int], largest: int) -> list[int]:
    ranks = parse_ranks(ranks)
    too_large = [k for k in ranks if k > largest]
    if too_large:
        raise UsageError(
            f"Rank {too_large[0]} is larger than the matrix allows ({largest}: the smaller of its "
            f"two sides). Choose ranks from 1 to {largest}."
        )
    return ranks


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


# --- Figure -----------------------------------------------------------------------------------

CONTROL_STYLES = {"data": "-", "shuffled": "--", "same shuffle": ":", "noise": "-."}


def lowrank_figure(report: LowRankReport) -> Figure:
    """Originals and their rank-k reconstructions (error, compression), the singular-value
    spectrum and the cumulative energy of the data and of its controls."""
    from matplotlib.figure import Figure

    examples = report.examples.float()
    ranks = [row.rank for row in report.rows]
    columns = 1 + len(ranks)
    cell = 1.4
    height = cell * len(examples) + 0.9 + 3.6
    figure = Figure(figsize=(max(cell * columns, 10.0), height), layout="constrained")
    rows = figure.subfigures(2, 1, height_ratios=[cell * len(examples) + 0.9, 3.6])
    captions = ["original"] + [
        f"rank {row.rank}\nerror {row.relative_error:.1%}\n{_size_change(row.compression_ratio)}"
        for row in report.rows
    ]
    image_axes = rows[0].subplots(len(examples), columns, squeeze=False)
    for index, original in enumerate(examples):
        panels = [original] + [report.reconstructions[k][index] for k in ranks]
        for column, pixels in enumerate(panels):
            _show(image_axes[index, column], pixels)
            if index == 0:
                image_axes[index, column].set_title(captions[column], fontsize=8)
    spectrum_axes, energy_axes = rows[1].subplots(1, 2)
    _plot_spectra(spectrum_axes, report)
    _plot_energy(energy_axes, report)
    shape = format_shape(report.matrix_shape[1:])
    what = (
        f"{report.matrix_shape[0]} channel(s) of {shape}"
        if report.kind == "image"
        else f"{shape} (images x pixels)"
    )
    figure.suptitle(f"Low-rank SVD of {report.source}: {what}, centred", fontsize=11)
    return figure


def _plot_spectra(axes, report: LowRankReport) -> None:
    largest = float(report.spectra[0].singular_values.max())
    for item in report.spectra:
        values = item.singular_values.double().pow(2).sum(0).sqrt().numpy()
        axes.semilogy(
            range(1, len(values) + 1), values, CONTROL_STYLES.get(item.label, "-"), label=item.label
        )
    # Constant pixels (an MNIST border) give singular values at rounding level: not worth 60 decades.
    axes.set_ylim(bottom=largest * 1e-4)
    axes.set_xlabel("component k")
    axes.set_ylabel("singular value")
    axes.set_title("singular-value spectrum", fontsize=9)
    axes.legend(fontsize=7)


def _plot_energy(axes, report: LowRankReport) -> None:
    for item in report.spectra:
        energy = item.energy.numpy()
        needed = ", ".join(f"{_percent(f)}: {item.rank_for(f)}" for f in report.fractions)
        label = f"{item.label} (k for {needed})"
        axes.plot(range(1, len(energy) + 1), energy, CONTROL_STYLES.get(item.label, "-"), label=label)
    for fraction in report.fractions:
        axes.axhline(fraction, color="gray", linewidth=0.5)
    axes.set_xscale("log")
    axes.set_xlabel("rank k")
    axes.set_ylabel("fraction of the variance")
    axes.set_title("cumulative energy", fontsize=9)
    axes.legend(fontsize=7, loc="upper left")


def _size_change(ratio: float) -> str:
    return f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"


def _show(axes, pixels: torch.Tensor) -> None:
    array = pixels.clamp(0, 1).cpu().numpy()
    if array.shape[0] == 1:
        axes.imshow(array[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        axes.imshow(array.transpose(1, 2, 0), interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
