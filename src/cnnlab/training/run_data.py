"""The images of a run: the training split (maybe a subset), a validation split, the test split."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.data import ImageDataset, load_dataset, split_validation
from cnnlab.data.datasets import is_folder_path
from cnnlab.errors import ConfigError
from cnnlab.training.config import TrainConfig


@dataclass
class RunData:
    train: ImageDataset
    val: ImageDataset | None
    test: ImageDataset | None
    from_object: bool  # given as an ImageDataset (not by name): a resume must be given it again

    def describe(self) -> dict[str, Any]:
        """What environment.json records about the data, split by split."""
        return {
            split: {
                "name": ds.name,
                "split": ds.split,
                "images": len(ds),
                "input_shape": list(ds.input_shape),
                "verification": ds.verification,
                "location": ds.location,
            }
            for split, ds in (("train", self.train), ("val", self.val), ("test", self.test))
            if ds is not None
        }


def prepare_data(
    config: TrainConfig,
    dataset: str | ImageDataset | None = None,
    test_data: ImageDataset | None = None,
    *,
    progress: bool = True,
) -> RunData:
    """Load (or take) the datasets and cut them as the settings say; refuse impossible subsets."""
    if isinstance(dataset, ImageDataset):
        full, test = dataset, test_data
    else:
        name = dataset or config.dataset
        full = load_dataset(
            name, "train", data_dir=config.data_dir, progress=progress, skip_bad_images=config.skip_bad_images
        )
        test = test_data if test_data is not None else _test_split(name, config, progress)
    full = _first(full, config.subset, "subset", "training")
    if test is not None and config.test_subset is not None:
        test = _first(test, config.test_subset, "test_subset", "test")
    if config.resize:  # after the subsets: only the images used are resized
        full, test = full.resized(config.resize), test.resized(config.resize) if test is not None else None
    train, val = split_validation(full, config.val_split, config.seed) if config.val_split else (full, None)
    if config.batch_size > len(train):
        warnings.warn(
            f"--batch-size {config.batch_size} is larger than the {len(train)} training images: each "
            f"epoch is one step of {len(train)} images. Choose a batch of at most {len(train)}, or "
            "train on more images.",
            stacklevel=2,
        )
    return RunData(train=train, val=val, test=test, from_object=isinstance(dataset, ImageDataset))


def _test_split(name: str, config: TrainConfig, progress: bool) -> ImageDataset | None:
    """The test split; None for an image folder without a ``test/`` sub-folder."""
    if is_folder_path(name):
        from cnnlab.data.image_folder import find_splits

        if "test" not in find_splits(Path(name)):
            return None
    return load_dataset(
        name, "test", data_dir=config.data_dir, progress=progress, skip_bad_images=config.skip_bad_images
    )


def _first(dataset: ImageDataset, n: int | None, setting: str, what: str) -> ImageDataset:
    if n is None:
        return dataset
    if n > len(dataset):
        raise ConfigError(
            f"{setting} {n} is larger than the {len(dataset):,} {what} images of {dataset.name}; "
            f"use at most {len(dataset)} or leave it out."
        )
    return dataset.subset(n)
