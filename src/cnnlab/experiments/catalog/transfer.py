"""transfer: the course's 05_04 lesson (a pretrained network, frozen, a new last layer for dogs vs
cats) measured on a CPU, against the same network trained from scratch.

The source task: the eight CIFAR-10 classes that are neither cats nor dogs, so the pretrained
network has never seen a label of the target task (pretraining on cats and dogs, then "transferring"
to them, would measure nothing but a head start on the same labels). The target task: a small image
folder, written out as PNG files (``<experiment>/cats-vs-dogs/{train,test}/{cat,dog}/*.png``, 250
training images a class and 500 test images a class, from CIFAR-10's own training and test sets),
loaded the way a user's folder is. The network is the course's tutorial CNN (``tutorial-cnn``).

Cells: the source network (one seed); on the folder, the same network from scratch, the pretrained
network with its features frozen and a new last layer (``--init-from RUN --freeze features
--new-head``: the course's recipe), and the pretrained network fine-tuned whole with a new last
layer (``--init-from RUN --new-head``). Every target cell has the same recipe (AdamW, one-cycle,
crops and flips, 15 epochs) and the seeds vary the new layer's initialisation and the data order;
all start from the one source network.

Measured: see docs/results/transfer for the numbers and the command that made them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.experiments.registry import CellSpec, Plan, Size, experiment
from cnnlab.experiments.report import format_summary
from cnnlab.runs.stats import WelchTest

if TYPE_CHECKING:  # the context imports torch; listing the experiments must not
    from cnnlab.data import ImageDataset
    from cnnlab.experiments.context import Context

MODEL, DATASET = "tutorial-cnn", "cifar10"
TARGET_CLASSES = ("cat", "dog")
TRAIN_PER_CLASS, TEST_PER_CLASS = 250, 500
SOURCE_SETTINGS = {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 5e-4, "batch_size": 64, "epochs": 8,
                   "schedule": "onecycle", "crop_padding": 4, "flip": True}  # fmt: skip
TARGET_SETTINGS = {
    **SOURCE_SETTINGS,
    "lr": 1e-3,
    "batch_size": 32,
    "epochs": 15,
    "subset": len(TARGET_CLASSES) * TRAIN_PER_CLASS,
    "test_subset": len(TARGET_CLASSES) * TEST_PER_CLASS,
}
SOURCE = "source: tutorial-cnn on the 8 other CIFAR-10 classes"
SCRATCH = "cats vs dogs: from scratch"
FROZEN = "cats vs dogs: pretrained, features frozen, new last layer"
TUNED = "cats vs dogs: pretrained, fine-tuned whole, new last layer"
FULL = Size(seeds=5)
QUICK = Size(seeds=3, train_images=8000, test_images=1000)  # a smaller source task; the same folder


@dataclasses.dataclass
class WithoutClasses:
    """A split without some classes, the others relabelled 0..k-1 in their order."""

    dropped: tuple[str, ...]

    def __call__(self, dataset: ImageDataset) -> ImageDataset:
        import torch

        kept = [name for name in dataset.classes if name not in self.dropped]
        new_label = torch.full((len(dataset.classes),), -1, dtype=torch.int64)
        for index, name in enumerate(kept):
            new_label[dataset.classes.index(name)] = index
        keep = new_label[dataset.labels] >= 0
        return dataclasses.replace(
            dataset, name=f"{dataset.name}-without-{'-'.join(self.dropped)}", images=dataset.images[keep],
            labels=new_label[dataset.labels[keep]], classes=kept,
        )  # fmt: skip


@dataclasses.dataclass
class AsImageFolder:
    """Some classes of a split written out as PNG files under ``folder/<split>/<class>/``, read back
    as an image folder (a user's own data). ``folder`` is set by the experiment before training."""

    classes: tuple[str, ...]
    per_class: dict[str, int]  # split -> images a class
    folder: Path | None = None

    def __call__(self, dataset: ImageDataset) -> ImageDataset:
        from PIL import Image

        from cnnlab.data.image_folder import load_image_folder

        assert self.folder is not None, "the experiment sets the folder before training"
        for name in self.classes:
            target = self.folder / dataset.split / name
            target.mkdir(parents=True, exist_ok=True)
            chosen = (dataset.labels == dataset.classes.index(name)).nonzero().flatten()
            for i, index in enumerate(chosen[: self.per_class[dataset.split]].tolist()):
                pixels = dataset.images[index].permute(1, 2, 0).numpy()
                Image.fromarray(pixels).save(target / f"{i:04d}.png")
        return load_image_folder(self.folder, dataset.split)


def plan(size: Size) -> Plan:
    folder = AsImageFolder(TARGET_CLASSES, {"train": TRAIN_PER_CLASS, "test": TEST_PER_CLASS})
    target = size.apply(TARGET_SETTINGS)
    source = CellSpec(
        SOURCE, MODEL, DATASET, size.apply(SOURCE_SETTINGS), transform=WithoutClasses(TARGET_CLASSES), seeds=1
    )
    frozen = {
        **target,
        "freeze": "features",
        "new_head": True,
    }  # --init-from is added once the source trained
    return Plan(
        [
            source,
            CellSpec(SCRATCH, MODEL, DATASET, target, transform=folder),
            CellSpec(FROZEN, MODEL, DATASET, frozen, transform=folder),
            CellSpec(TUNED, MODEL, DATASET, {**target, "new_head": True}, transform=folder),
        ]
    )


@experiment(
    "transfer",
    version=1,
    title="Transfer learning: pretrained features for a small cats-vs-dogs folder",
    question="Why do pretrained features help on a small dataset, and when do they not?",
    full=FULL,
    quick=QUICK,
    plan=plan,
)
def run(ctx: Context) -> None:
    ctx.spec(SCRATCH).transform.folder = ctx.dir / "cats-vs-dogs"
    seeds, ctx.seeds = ctx.seeds, ctx.seeds[:1]  # one source network; every target seed starts from it
    source = ctx.train(SOURCE)
    ctx.seeds = seeds
    pretrained = str(ctx.runs[SOURCE][0].dir)
    cells = [source, ctx.train(SCRATCH)]
    cells += [ctx.train(ctx.spec(label).with_settings(init_from=pretrained)) for label in (FROZEN, TUNED)]
    ctx.report.text(
        f"The folder: {TRAIN_PER_CLASS} training and {TEST_PER_CLASS} test images a class, written to "
        "`cats-vs-dogs/` beside this report. The source network's row is its accuracy on the 8 source "
        "classes; the others are on cats vs dogs (chance: 50%)."
    )
    ctx.results_table(cells, ["test_accuracy", "train_accuracy", "test_loss"])
    from cnnlab.experiments.plots import bars_figure

    title = f"Cats vs dogs, {2 * TRAIN_PER_CLASS} training images"
    ctx.figure("accuracy.png", bars_figure(cells[1:], "test_accuracy", title),
               "Test accuracy on cats vs dogs: bars are the mean over seeds, dots the seeds")  # fmt: skip
    trainable = {label: _trainable(ctx, label) for label in (SCRATCH, FROZEN, TUNED)}
    ctx.results["trainable_parameters"] = trainable
    ctx.report.text(
        "Parameters that train: "
        + "; ".join(f"{label}: {count:,}" for label, count in trainable.items())
        + "."
    )
    _explain(ctx, trainable)


def _trainable(ctx: Context, label: str) -> int:
    return sum(p.numel() for p in ctx.runs[label][0].model.parameters() if p.requires_grad)


def _why(ctx: Context, tuned: WelchTest) -> str:
    """Why pretrained features help, and whether they did here, from the measured difference."""
    source = ctx.cells[SOURCE]
    strength = (
        f"the source network reached {format_summary(source.summary('test_accuracy'), 'test_accuracy')} on "
        f"its own 8 classes after training on {source.train_images:,} images"
    )
    helped = tuned.difference > 0 and tuned.significant
    verdict = (
        f"Here they helped: {strength}."
        if helped
        else f"Here they did not help by more than seed noise: {strength}, so its features are weak, and "
        "32-px images of 8 classes are a small source (ImageNet weights come from 1.2 million images "
        "of 1,000 classes)."
    )
    return (
        "**Why pretrained features help.** The first layers of a CIFAR network learn edges, colour "
        "contrasts and textures; the later ones, parts such as eyes, fur and legs. The source classes "
        "(birds, deer, horses, frogs among them) share those with cats and dogs, and the source has far "
        f"more images than the target's {2 * TRAIN_PER_CLASS}: from scratch, the same network must learn "
        f"its features from {2 * TRAIN_PER_CLASS} images, where it can as easily memorise them as learn "
        "what separates a cat from a dog. Freezing the features trains only the last layer: little can "
        "overfit, but nothing adapts to the new classes, so frozen features are only as good as the "
        f"source made them; fine-tuning adapts everything from a better start. {verdict}"
    )


def _explain(ctx: Context, trainable: dict[str, int]) -> None:
    tuned, frozen = ctx.compare(TUNED, SCRATCH), ctx.compare(FROZEN, SCRATCH)
    tuned_vs_frozen = ctx.compare(TUNED, FROZEN)
    accuracy = lambda label: format_summary(ctx.cells[label].summary("test_accuracy"), "test_accuracy")  # noqa: E731
    points = lambda comparison: f"{comparison.difference * 100:+.2f} points ({comparison.verdict()})"  # noqa: E731
    ctx.answer.text(
        f"**What was measured.** From scratch, the tutorial CNN reaches {accuracy(SCRATCH)} on cats vs dogs "
        f"with {2 * TRAIN_PER_CLASS} training images. Starting from the network trained on the 8 other "
        f"CIFAR-10 classes, with its features frozen and only a new last layer trained "
        f"({trainable[FROZEN]:,} parameters), it reaches {accuracy(FROZEN)}: {points(frozen)} against "
        f"scratch. Fine-tuned whole ({trainable[TUNED]:,} parameters), it reaches {accuracy(TUNED)}: "
        f"{points(tuned)} against scratch and {points(tuned_vs_frozen)} against the frozen one.",
        _why(ctx, tuned),
        "**When they do not.** (Not measured here; what the setting above implies.) Pretrained features "
        "help less (1) as the target data grows: with thousands of images a class the scratch network "
        "learns its own features and catches up; (2) when the source is unrelated to the target (digits "
        "for photographs), so the later features are of the wrong things, and freezing them is then worse "
        "than fine-tuning or starting afresh; (3) when the images differ in size or statistics from the "
        "source's: ImageNet weights expect about 224 px, and cnnlab refuses torchvision weights for 32 px "
        "images rather than building a network they do not fit. And a source that already contains the "
        "target's classes does not show transfer at all: that is why cats and dogs are left out here.",
    )
