"""cnnlab's model zoo: classic networks, each in one short file that reads like its paper.

``create(name, num_classes=10, in_channels=3, input_size=32, **kwargs)`` builds any of them;
``list_models()`` and ``get_info(name)`` describe them. Each family module registers its builders
with :func:`register` when imported; this package imports them all from ``FAMILY_MODULES``.
"""

from __future__ import annotations

import importlib
import importlib.util

from cnnlab.models.registry import (
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
    "speedrun",
    "airbench",
    "autoencoders",
    "vae",
    "rbm",
)
# Written separately; imported only once their file exists.
_OPTIONAL_MODULES = frozenset({"autoencoders", "vae", "rbm"})

for _module in FAMILY_MODULES:
    _qualified = f"{__name__}.{_module}"
    if _module not in _OPTIONAL_MODULES or importlib.util.find_spec(_qualified) is not None:
        importlib.import_module(_qualified)

__all__ = [
    "FAMILY_MODULES",
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
