"""cnnlab.data: datasets as uint8 tensors, verified offline-first, and fast batched loading.

>>> from cnnlab.data import load_dataset, BatchLoader, Augment
>>> train = load_dataset("cifar10", "train")
>>> loader = BatchLoader(train, 128, augment=Augment(crop_padding=4, flip=True), seed=0)
>>> for inputs, labels in loader.epoch(0): ...
"""

from __future__ import annotations

from cnnlab.data.augment import Augment, random_crop, random_flip
from cnnlab.data.datasets import load_dataset, split_validation
from cnnlab.data.image_dataset import ImageDataset
from cnnlab.data.loader import BatchLoader
from cnnlab.data.registry import DATASETS, DatasetSpec, get_spec
from cnnlab.data.transforms import INPUT_SCALES, to_model_input

__all__ = [
    "Augment",
    "BatchLoader",
    "DATASETS",
    "DatasetSpec",
    "INPUT_SCALES",
    "ImageDataset",
    "get_spec",
    "load_dataset",
    "random_crop",
    "random_flip",
    "split_validation",
    "to_model_input",
]
