"""dropout: how does dropout work, and what gap does it close?

AlexNet puts dropout in its classifier: ``Dropout -> Linear -> ReLU -> Dropout -> Linear -> ReLU ->
Linear``. AlexNet itself needs 63x63 inputs or more, so the experiment puts that classifier on a small
convolutional trunk for 32x32 images (:class:`SmallAlexNet`), trains it on the first 5,000 CIFAR-10
training images (few images and a large classifier: overfitting within a few epochs) with dropout
0, 0.25 and 0.5, and plots train against test accuracy. The report works through inverted dropout
on a fixed vector with a fixed mask, computed by :func:`worked_example`.

Measured: see docs/experiments.md for the full run's numbers and the command that made them.
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any

from cnnlab.experiments.cells import TRAIN_EVAL_ACCURACY
from cnnlab.experiments.registry import CellSpec, Plan, Size, experiment

if TYPE_CHECKING:  # the context imports torch; listing the experiments must not
    from cnnlab.experiments.context import Context
    from cnnlab.experiments.networks import SmallAlexNet

DATASET = "cifar10"
RATES = (0.0, 0.25, 0.5)
SETTINGS = {
    "optimizer": "adam",
    "lr": 1e-3,
    "batch_size": 128,
    "epochs": 15,
    "schedule": "constant",
    "subset": 5000,
}
FULL = Size(seeds=2)
QUICK = Size(seeds=1, train_images=500, test_images=500, epochs=2)
# The worked example: a fixed activation vector, a fixed keep-mask, dropout probability 1/2.
EXAMPLE_INPUT = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
EXAMPLE_MASK = (1, 0, 1, 1, 0, 0)
EXAMPLE_P = 0.5


def small_alexnet(dropout: float) -> SmallAlexNet:
    from cnnlab.experiments.networks import SmallAlexNet

    return SmallAlexNet(dropout)


def __getattr__(name: str) -> object:
    """``SmallAlexNet`` from where it was first defined: it lives in cnnlab.experiments.networks,
    so that listing the experiments does not import torch."""
    if name == "SmallAlexNet":
        from cnnlab.experiments.networks import SmallAlexNet

        return SmallAlexNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def label(rate: float) -> str:
    return f"dropout {rate:g}"


def plan(size: Size) -> Plan:
    return Plan(
        [
            CellSpec(label(rate), functools.partial(small_alexnet, rate), DATASET, size.apply(SETTINGS))
            for rate in RATES
        ]
    )


def worked_example(
    x: tuple[float, ...] = EXAMPLE_INPUT, mask: tuple[int, ...] = EXAMPLE_MASK, p: float = EXAMPLE_P
) -> dict[str, Any]:
    """Inverted dropout by hand, its exact expectation over all masks, and PyTorch's own dropout.

    Training: each unit is kept with probability 1 - p, and the kept ones are divided by 1 - p, so
    the expected output equals the input and evaluation needs no change (dropout is off then).
    """
    import torch
    import torch.nn.functional as F

    values = torch.tensor(x, dtype=torch.float64)
    keep = torch.tensor(mask, dtype=torch.float64)
    output = values * keep / (1 - p)
    expectation = torch.zeros_like(values)
    for bits in itertools.product((0, 1), repeat=len(x)):  # every mask, weighted by its probability
        pattern = torch.tensor(bits, dtype=torch.float64)
        probability = float(torch.prod(torch.where(pattern == 1, 1 - p, p)))
        expectation += probability * values * pattern / (1 - p)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch_train = F.dropout(values, p, training=True)
    return {
        "p": p,
        "x": values.tolist(),
        "mask": keep.tolist(),
        "train_output": output.tolist(),
        "expectation": expectation.tolist(),
        "torch_train_output": torch_train.tolist(),
        "torch_eval_output": F.dropout(values, p, training=False).tolist(),
    }


@experiment(
    "dropout",
    version=1,
    title="Dropout: what it does, and the overfitting gap it closes",
    question=(
        "How does dropout work (what happens at training and at test time), and how much of the gap "
        "between training and test accuracy does it close?"
    ),
    full=FULL,
    quick=QUICK,
    plan=plan,
)
def run(ctx: Context) -> None:
    from cnnlab.experiments.plots import curves_figure

    cells = ctx.train_all(evaluate_training_images=True)
    ctx.results_table(cells, [TRAIN_EVAL_ACCURACY, "test_accuracy", "train_accuracy", "test_loss"])
    ctx.report.text(
        "train eval accuracy: on the training images after training, in evaluation mode (dropout off); "
        "train accuracy: the trainer's running mean during the last epoch, with dropout on."
    )
    gaps = {cell.label: cell.gap() for cell in cells}
    ctx.report.table(
        ["cell", "train minus test accuracy (points, per seed)"],
        [[name, ", ".join(f"{g * 100:.2f}" for g in values)] for name, values in gaps.items()],
    )
    ctx.figure(
        "curves.png",
        curves_figure(cells, ["train_accuracy", "test_accuracy"], "Small AlexNet on CIFAR-10 (5,000 images)"),
        "Accuracy per epoch, mean over seeds; dashed: training (running mean, dropout on), solid: test",
    )
    example = worked_example()
    ctx.results["worked_example"] = example
    ctx.results["train_test_gap"] = gaps
    _explain(ctx, example, gaps)


def _vector(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _explain(ctx: Context, example: dict[str, Any], gaps: dict[str, list[float]]) -> None:
    p = example["p"]
    mean_gap = {name: sum(v) / len(v) for name, v in gaps.items()}
    none, most = label(RATES[0]), label(RATES[-1])
    comparison = ctx.compare(most, none)
    ctx.answer.text(
        f"**Training time: a random mask, and inverted scaling.** Each unit of the classifier is zeroed "
        f"with probability p = {p:g} at every step, with a new mask each step, and the units that survive "
        f"are divided by 1 - p = {1 - p:g}. Worked example: the activations x = {_vector(example['x'])} "
        f"with the mask {_vector(example['mask'])} give {_vector(example['train_output'])}. Averaged over "
        f"all {2 ** len(example['x'])} masks, each weighted by its probability, the output is "
        f"{_vector(example['expectation'])}: exactly x. PyTorch's `F.dropout` in training mode (seed 0) "
        f"gave {_vector(example['torch_train_output'])}: every survivor is x / {1 - p:g}.",
        f"**Test time: nothing.** In evaluation mode dropout is the identity "
        f"({_vector(example['torch_eval_output'])}), and because of the scaling during training the next "
        "layer sees the same expected input in both modes. (The original paper scaled the weights by "
        "1 - p at test time instead; the inverted form moves that to training, so inference is untouched.)",
        f"**What it buys.** Without dropout the train-test gap is {mean_gap[none] * 100:.2f} points; with "
        f"p = {RATES[-1]:g} it is {mean_gap[most] * 100:.2f} points. Test accuracy changes by "
        f"{comparison.difference * 100:+.2f} points ({comparison.verdict()}). A unit cannot rely on any "
        "particular other unit being there, so the classifier cannot memorise the training images through "
        "fragile co-adapted features; it behaves like an average of many thinned networks.",
    )
