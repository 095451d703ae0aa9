"""mixup: when does MixUp (the course's notebook 11) help on CIFAR-10?

MixUp (Zhang et al. 2018; ``--mixup ALPHA``, :mod:`cnnlab.training.mixup`) trains on blends of two
images and of their losses: a regulariser, so it should help where the network overfits and cost
accuracy where it underfits. The experiment trains the course's tutorial CNN with the course's
setting (Adam 1e-3, batch 64, constant rate, no augmentation) in two regimes of the same length
in images seen: few images for many epochs (5,000 images, 30 epochs: it overfits) and all 50,000
for 3 epochs (it underfits), each without and with MixUp (ALPHA = 1: any blend equally likely).
The report gives the test accuracy, the accuracy on the clean training images in evaluation mode
and the gap between them, and the training accuracy the trainer reports on the blended images.

Measured: not run in full yet; ``cnnlab experiment list`` estimates its time here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnlab.experiments.cells import TRAIN_EVAL_ACCURACY
from cnnlab.experiments.registry import CellSpec, Plan, Size, experiment

if TYPE_CHECKING:  # the context imports torch; listing the experiments must not
    from cnnlab.experiments.context import Context

MODEL, DATASET = "tutorial-cnn", "cifar10"
ALPHA = 1.0
COURSE = {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "schedule": "constant"}
# (label, training images, epochs): 150,000 images seen in each regime.
REGIMES = (("5,000 images x 30 epochs", 5000, 30), ("50,000 images x 3 epochs", None, 3))
FULL = Size(seeds=3)
# The quick version keeps each regime's epochs on 500 images, so its two regimes still differ.
QUICK = Size(seeds=2, train_images=500, test_images=500)


def label(regime: str, mixup: bool) -> str:
    return f"{regime}, {'MixUp' if mixup else 'plain'}"


def plan(size: Size) -> Plan:
    cells = []
    for regime, images, epochs in REGIMES:
        settings = {**COURSE, "epochs": epochs, **({"subset": images} if images else {})}
        for mixup in (False, True):
            extra = {"mixup": ALPHA} if mixup else {}
            cells.append(CellSpec(label(regime, mixup), MODEL, DATASET, size.apply({**settings, **extra})))
    return Plan(cells)


@experiment(
    "mixup",
    version=1,
    title="MixUp on CIFAR-10: when does blending images help?",
    question=(
        "MixUp trains on blends of two images and their labels. When does it raise the test accuracy, "
        "and when does it cost accuracy?"
    ),
    full=FULL,
    quick=QUICK,
    plan=plan,
)
def run(ctx: Context) -> None:
    from cnnlab.experiments.plots import curves_figure

    cells = ctx.train_all(evaluate_training_images=True)
    ctx.results_table(cells, ["test_accuracy", TRAIN_EVAL_ACCURACY, "train_accuracy", "test_loss"])
    ctx.report.text(
        "train eval accuracy: on the (clean) training images after training, in evaluation mode. "
        "train accuracy: the trainer's running mean over the last epoch; under MixUp it is scored on the "
        "blended images against the label of each blend's larger share, so it is lower than the plain "
        "cells' and not comparable with them."
    )
    gaps = {cell.label: cell.gap() for cell in cells}
    ctx.results["train_test_gap"] = gaps
    ctx.report.table(
        ["cell", "train eval minus test accuracy (points, per seed)"],
        [[name, ", ".join(f"{g * 100:.2f}" for g in values)] for name, values in gaps.items()],
    )
    ctx.figure(
        "curves.png",
        curves_figure(cells, ["test_accuracy"], f"{MODEL} on CIFAR-10, with and without MixUp"),
        "Test accuracy per epoch, mean over seeds",
    )
    _explain(ctx, gaps)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _explain(ctx: Context, gaps: dict[str, list[float]]) -> None:
    sentences, outcomes = [], []
    for regime, _, _ in REGIMES:
        plain, mixed = label(regime, False), label(regime, True)
        comparison = ctx.compare(mixed, plain)
        sentences.append(
            f"**{regime}.** MixUp changes the test accuracy by {comparison.difference * 100:+.2f} points "
            f"({comparison.verdict()}); the gap between the clean training images and the test images goes "
            f"from {_mean(gaps[plain]) * 100:.2f} to {_mean(gaps[mixed]) * 100:.2f} points."
        )
        effect = "within seed noise" if not comparison.significant else (
            "helped" if comparison.difference > 0 else "cost accuracy"
        )  # fmt: skip
        outcomes.append(f"{effect} with {regime}")
    sentences.append(
        "**Why.** A network trained on blends must give a blended answer between any two training images, "
        "so it cannot fit each image's label exactly: a regulariser, like dropout or weight decay. It should "
        "help where the network overfits (few images, many epochs: a large train-test gap) and shrink that "
        "gap, and cost accuracy where it underfits (a few epochs over many images: train and test accuracy "
        "close together), where the blends only make a too-short training harder. "
        f"Measured here: MixUp {'; '.join(outcomes)}. The paper's gains came from long trainings (200 "
        "epochs) of large networks, the regime where overfitting is the limit."
    )
    ctx.answer.text(*sentences)
