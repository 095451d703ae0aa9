"""cnnlab.data: datasets as uint8 tensors, verified offline-first, and fast batched loading.

>>> from cnnlab.data import load_dataset, BatchLoader, Augment
>>> train = load_dataset("cifar10", "train")
>>> loader = BatchLoader(train, 128, augment=Augment(crop_padding=4, flip=True), seed=0)
>>> for inputs, labels in loader.epoch(0): ...
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: ``cnnlab experiment list`` and the command line's help need the dataset
# table (cnnlab.data.registry), not torch, which the loaders import (~2 s on a small machine).
_EXPORTS = {
    "Augment": "cnnlab.data.augment",
    "random_crop": "cnnlab.data.augment",
    "random_flip": "cnnlab.data.augment",
    "load_dataset": "cnnlab.data.datasets",
    "split_validation": "cnnlab.data.datasets",
    "ImageDataset": "cnnlab.data.image_dataset",
    "BatchLoader": "cnnlab.data.loader",
    "DATASETS": "cnnlab.data.registry",
    "DatasetSpec": "cnnlab.data.registry",
    "get_spec": "cnnlab.data.registry",
    "INPUT_SCALES": "cnnlab.data.transforms",
    "to_model_input": "cnnlab.data.transforms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cnnlab.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
