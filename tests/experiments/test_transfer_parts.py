"""The transfer experiment's data: the source task without the target's classes, the target as a folder."""

from __future__ import annotations

import torch

from cnnlab.data import ImageDataset
from cnnlab.experiments import get_experiment
from cnnlab.experiments.catalog.transfer import FROZEN, SCRATCH, SOURCE, TUNED, AsImageFolder, WithoutClasses

CLASSES = ["airplane", "cat", "dog", "ship"]


def colour_split(split: str, per_class: int = 3) -> ImageDataset:
    labels = torch.arange(len(CLASSES)).repeat_interleave(per_class)
    images = (labels.view(-1, 1, 1, 1) * 60 + torch.arange(len(labels)).view(-1, 1, 1, 1)).expand(-1, 3, 8, 8)
    return ImageDataset("colours", split, images.to(torch.uint8).contiguous(), labels, CLASSES,
                        [0.5] * 3, [0.25] * 3)  # fmt: skip


def test_the_source_task_has_no_cat_or_dog_and_is_relabelled_in_order():
    source = WithoutClasses(("cat", "dog"))(colour_split("train"))
    assert source.classes == ["airplane", "ship"]
    assert source.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert source.images[3, 0, 0, 0].item() == 3 * 60 + 9  # the first ship kept its pixels


def test_the_target_is_written_as_png_files_and_read_back_as_an_image_folder(tmp_path):
    folder = AsImageFolder(("cat", "dog"), {"train": 2, "test": 1}, tmp_path / "cats-vs-dogs")
    train, test = folder(colour_split("train")), folder(colour_split("test"))
    assert sorted(p.name for p in (tmp_path / "cats-vs-dogs" / "train").iterdir()) == ["cat", "dog"]
    assert len(list((tmp_path / "cats-vs-dogs" / "train" / "cat").glob("*.png"))) == 2
    assert train.classes == ["cat", "dog"] and len(train) == 4 and len(test) == 2
    original = colour_split("train")
    assert torch.equal(train.images[0], original.images[3])  # the first cat, to the pixel (PNG: lossless)


def test_the_plan_starts_the_target_cells_from_the_source_and_only_the_frozen_one_freezes():
    experiment = get_experiment("transfer")
    cells = {cell.label: cell for cell in experiment.plan(experiment.size(quick=True)).cells}
    assert list(cells) == [SOURCE, SCRATCH, FROZEN, TUNED]
    assert cells[FROZEN].settings["freeze"] == "features" and "freeze" not in cells[TUNED].settings
    assert cells[FROZEN].settings["new_head"] and cells[TUNED].settings["new_head"]
    assert cells[SCRATCH].transform is cells[TUNED].transform  # one folder, written once
    assert cells[SCRATCH].settings["subset"] == 500  # the folder's 250 + 250, also in --quick
