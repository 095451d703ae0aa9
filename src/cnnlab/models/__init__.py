"""cnnlab's model zoo: classic networks, each in one short file that reads like its paper.

``create(name, num_classes=10, in_channels=3, input_size=32, **kwargs)`` builds any of them;
``list_models()`` and ``get_info(name)`` describe them. Each family module registers its builders
with :func:`register` when imported; this package imports them all from ``FAMILY_MODULES``.
"""

from __future__ import annotations

import importlib

from cnnlab.models.registry import (
    MODELS,
    SMALL_INPUT_LIMIT,
    ModelInfo,
    create,
    families,
    get_info,
    list_models,
    normalize_input_size,
    register,
    small_input,
)

FAMILY_MODULES = (
    "mlp",
    "small_cnns",
    "lenet",
    "alexnet",
    "zfnet",
    "vgg",
    "googlenet",
    "inception_v3",
    "resnet",
    "se_resnet",
    "mobilenet_v2",
    "speedrun",
    "airbench",
    "autoencoders",
    "vae",
    "rbm",
)
for _module in FAMILY_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "FAMILY_MODULES",
    "MODELS",
    "SMALL_INPUT_LIMIT",
    "ModelInfo",
    "create",
    "families",
    "get_info",
    "list_models",
    "normalize_input_size",
    "register",
    "small_input",
]
