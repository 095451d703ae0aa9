"""``curves.png``: a run's learning curves from its metrics records.

One panel a quantity: the loss, the accuracy for classifiers, and each further objective term
(``recon``, ``kl``, ...) for autoencoders. Each shows the per-epoch train, validation and test
values, with the training values of the step records faintly behind (loss and accuracy). The x
axis is in epochs; an epoch's values sit at its end.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cnnlab.atomic import atomic_path
from cnnlab.formatting import is_accuracy

SPLITS = ("train", "val", "test")
_SKIP = {"epoch", "step", "lr", "time_s", "images_per_s"}


def plot_curves(records: list[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """Draw the curves of ``records`` (metrics.jsonl) into ``path``; None when there is no epoch."""
    epochs = [r for r in records if r.get("kind") == "epoch"]
    if not epochs:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    quantities = _quantities(epochs)
    columns = min(3, len(quantities))
    rows = math.ceil(len(quantities) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    steps_per_epoch = max(1, epochs[0]["step"] // epochs[0]["epoch"])
    last_epoch = epochs[-1]["epoch"]
    for axis, quantity in zip(axes.flat, quantities, strict=False):
        scale = 100.0 if is_accuracy(quantity) else 1.0  # accuracies in percent, as printed
        _plot_steps(axis, records, steps_per_epoch, quantity, scale)
        for split in SPLITS:
            points = [
                (r["epoch"], r[f"{split}_{quantity}"] * scale) for r in epochs if f"{split}_{quantity}" in r
            ]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", markersize=3, label=split)
        axis.set_title(quantity.replace("_", " ") + (" (%)" if scale != 1.0 else ""))
        axis.set_xlabel("epoch")
        axis.set_xlim(0, last_epoch + 0.05)
        if last_epoch >= 3:  # whole epochs; shorter runs keep fractional ticks for the steps
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    for axis in list(axes.flat)[len(quantities) :]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, format="png")
    plt.close(figure)
    return path


def _quantities(epochs: list[dict[str, Any]]) -> list[str]:
    """ "loss", then "accuracy", then the other terms, in the order they first appear."""
    found: dict[str, None] = {}
    for record in epochs:
        for key in record:
            split, _, quantity = key.partition("_")
            if split in SPLITS and quantity and key not in _SKIP:
                found[quantity] = None
    ordered = [q for q in ("loss", "accuracy") if q in found]
    return ordered + [q for q in found if q not in ordered]


def _plot_steps(
    axis: Any, records: list[dict[str, Any]], steps_per_epoch: int, quantity: str, scale: float
) -> None:
    """The step records' training ``quantity`` (loss, accuracy over the last log_every steps)."""
    steps = [
        (r["step"] / steps_per_epoch, r[quantity] * scale)
        for r in records
        if r.get("kind") == "step" and quantity in r
    ]
    finite = [(x, y) for x, y in steps if math.isfinite(y)]
    if finite:
        axis.plot(*zip(*finite, strict=True), color="0.6", linewidth=0.8, alpha=0.7, label="train (steps)")
