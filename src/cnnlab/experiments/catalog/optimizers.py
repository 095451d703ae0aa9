"""optimizers: how do I pick an optimizer, and its learning rate, quickly?

One network and dataset (LeNet-5 on Fashion-MNIST), six optimizers: SGD, SGD with momentum 0.9,
Nesterov momentum, Adam, AdamW (weight decay 0.01) and RMSprop. Each first gets a learning-rate
range test (:mod:`cnnlab.experiments.lr_finder`: an exponential sweep over a few steps, the
smoothed loss, the rate a tenth of the one at the lowest loss), then trains with that peak rate
and a one-cycle schedule for the same number of epochs.

Measured: see docs/experiments.md for the full run's numbers and the command that made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnlab.experiments.registry import CellSpec, ExtraWork, Plan, Size, experiment
from cnnlab.experiments.report import format_summary

if TYPE_CHECKING:  # the context imports torch; listing the experiments must not
    from cnnlab.experiments.context import Context
    from cnnlab.experiments.lr_finder import RangeTest

MODEL, DATASET = "lenet5", "fashion-mnist"
COMMON = {"batch_size": 128, "epochs": 3, "schedule": "onecycle"}
# The learning rate of each is replaced by its range test's pick.
OPTIMIZERS = {
    "SGD": {"optimizer": "sgd", "momentum": 0.0},
    "SGD + momentum 0.9": {"optimizer": "sgd", "momentum": 0.9},
    "Nesterov 0.9": {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
    "Adam": {"optimizer": "adam"},
    "AdamW (wd 0.01)": {"optimizer": "adamw", "weight_decay": 0.01},
    "RMSprop": {"optimizer": "rmsprop"},
}
RULE = "min/10"
# The usual defaults, used (and said) when a range test finds no descent to read a rate from.
FALLBACK_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}


@dataclass(frozen=True)
class OptimizerSize(Size):
    range_steps: int = 100  # steps of each range test


FULL = OptimizerSize(seeds=3)
QUICK = OptimizerSize(seeds=1, train_images=600, test_images=500, epochs=1, range_steps=15)


def plan(size: OptimizerSize) -> Plan:
    cells = [
        CellSpec(label, MODEL, DATASET, size.apply({**COMMON, **settings}))
        for label, settings in OPTIMIZERS.items()
    ]
    extra = [ExtraWork(MODEL, DATASET, COMMON["batch_size"], size.range_steps) for _ in OPTIMIZERS]
    return Plan(cells, extra)


@experiment(
    "optimizers",
    version=1,
    title="Optimizers, each with a learning rate from a range test",
    question=(
        "How do I pick an optimizer and its learning rate quickly, and how much does the choice matter "
        "once each has a good learning rate?"
    ),
    full=FULL,
    quick=QUICK,
    plan=plan,
)
def run(ctx: Context) -> None:
    from cnnlab.experiments.plots import bars_figure, curves_figure, range_tests_figure

    tests = {spec.label: _range_test(ctx, spec) for spec in ctx.plan.cells}
    ctx.results["range_tests"] = {label: test.to_dict() for label, test in tests.items()}
    ctx.report.heading("Learning-rate range tests", level=3)
    ctx.report.text(
        f"Each test starts from a fresh network and takes {len(next(iter(tests.values())).lrs)} steps or "
        "fewer (it stops when the smoothed loss exceeds 4 times its minimum) with the rate growing "
        f"exponentially; the pick is the rate at the lowest smoothed loss divided by 10 ({RULE})."
    )
    rates = {spec.label: picked_rate(spec, tests[spec.label]) for spec in ctx.plan.cells}
    ctx.report.table(
        [
            "optimizer",
            "rate trained with",
            "pick",
            "rate at the lowest loss",
            "steepest descent at",
            "loss fell",
        ],
        [
            [
                label,
                f"{rates[label]:.3g}" + ("" if t.descended else " (usual default)"),
                f"{t.suggestion:.3g}",
                f"{t.minimum:.3g}",
                f"{t.steepest:.3g}",
                "yes" if t.descended else "no",
            ]
            for label, t in tests.items()
        ],
    )
    ctx.figure("range_tests.png", range_tests_figure(tests, f"Range tests: {MODEL} on {DATASET}"),
               "Smoothed training loss against the learning rate; dots mark each pick")  # fmt: skip
    fallbacks = [label for label, test in tests.items() if not test.descended]
    if fallbacks:
        ctx.report.text(
            f"No descent in the range test of {', '.join(fallbacks)} (the smoothed loss never fell 2% "
            "below its start): those train with their usual default rate instead."
        )
    ctx.results["learning_rates"] = rates
    cells = [ctx.train(spec.with_settings(lr=rates[spec.label])) for spec in ctx.plan.cells]
    ctx.report.heading("Training with the picked rates", level=3)
    ctx.results_table(cells, ["test_accuracy", "test_loss", "train_loss"])
    ctx.figure("accuracy.png", bars_figure(cells, "test_accuracy", f"{MODEL} on {DATASET}"),
               "Test accuracy: mean over seeds (bars), each seed (dots)")  # fmt: skip
    ctx.figure("curves.png", curves_figure(cells, ["test_accuracy"], "Test accuracy per epoch"),
               "Test accuracy per epoch, mean over seeds")  # fmt: skip
    _explain(ctx)


def picked_rate(spec: CellSpec, test: RangeTest) -> float:
    """The range test's pick, or the optimizer's usual default when the test found no descent."""
    return test.suggestion if test.descended else FALLBACK_LR[spec.settings["optimizer"]]


def _range_test(ctx: Context, spec: CellSpec) -> RangeTest:
    """The range test of one optimizer on the cell's training images, from a fresh seed-0 network."""
    import torch

    from cnnlab.data import BatchLoader
    from cnnlab.experiments.lr_finder import lr_range_test
    from cnnlab.models import create
    from cnnlab.training import TrainConfig

    train, _ = ctx.data(spec)
    train = train.subset(spec.settings["subset"]) if spec.settings.get("subset") else train
    config = TrainConfig().replace(**spec.settings)
    ctx.say(f"Range test: {spec.label}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seeds[0])
        model = create(MODEL, train.num_classes, train.in_channels, train.image_size)
    loader = BatchLoader(train, config.batch_size, seed=ctx.seeds[0], scale=model.input_scale)
    return lr_range_test(model, loader, config, steps=ctx.size.range_steps, rule=RULE, seed=ctx.seeds[0])


def _explain(ctx: Context) -> None:
    ranked = sorted(ctx.cells.values(), key=lambda cell: -cell.summary("test_accuracy").mean)
    best, runner_up, worst = ranked[0], ranked[1], ranked[-1]
    close = ctx.compare(best.label, runner_up.label)
    far = ctx.compare(best.label, worst.label)
    rates = sorted(ctx.results["learning_rates"].items(), key=lambda item: item[1])
    (low_name, low), (high_name, high) = rates[0], rates[-1]
    ctx.answer.text(
        "**Pick the rate first, then the optimizer.** The range tests take seconds, and the rates used "
        f"span {high / low:,.0f}x, from {low:.2g} ({low_name}) to {high:.2g} ({high_name}): no single "
        "default suits all of them, which is why a rate copied from another optimizer often fails.",
        f"**With their own rates**, the best is {best.label} "
        f"({format_summary(best.summary('test_accuracy'), 'test_accuracy')}) and the runner-up "
        f"{runner_up.label}: the difference is {close.difference * 100:+.2f} points, {close.verdict()}. "
        f"The worst, {worst.label}, is {far.difference * 100:.2f} points behind the best ({far.verdict()}).",
        "**In practice**: Adam or AdamW with the range test's rate and a one-cycle schedule is a strong, "
        "quick default; SGD needs momentum (plain SGD moves slowly along flat directions), and with "
        "momentum and enough epochs it often generalises as well or better. Differences inside seed noise "
        "are not worth choosing between: run `--seeds 5` before concluding.",
    )
