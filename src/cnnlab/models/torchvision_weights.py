"""torchvision's state-dict names for cnnlab's ImageNet-form networks, and a checked load.

cnnlab's ``alexnet``, ``vgg*``, ``resnet*``, ``googlenet`` and ``inception-v3`` have torchvision's
layer layouts at 224 px (299 for Inception v3) and 1000 classes, so a torchvision weights file
fits them tensor for tensor; only some names differ (cnnlab writes Inception modules as lists of
branches, ResNet blocks as a residual path and a shortcut). :func:`renamer` maps each cnnlab key
to torchvision's; :func:`load_state` loads a state dict under either naming and checks
every tensor: a missing one, one of the wrong shape, or one the network has no place for is an
error naming it. Loading is by name, so a file whose tensors were moved between keys fails the
shape check rather than loading garbage.

cnnlab never downloads weights: the user gives the file (e.g. one they saved with
``torch.save(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.pt")``).
Inception v3's and GoogLeNet's torchvision files hold their auxiliary heads; without an auxiliary
head here (Inception v3 under 299 px, GoogLeNet by default) those tensors are skipped. torchvision's
GoogLeNet and Inception v3 weights expect its ``transform_input`` rescaling of ImageNet-normalised
input; cnnlab standardises with the new dataset's own statistics, which fine-tuning absorbs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

from cnnlab.errors import CheckpointError

Renamer = Callable[[str], str]

_RESNET = [
    (r"^stem\.0\.0\.", "conv1."),
    (r"^stem\.0\.1\.", "bn1."),
    (r"^(layer\d\.\d+)\.shortcut\.", r"\1.downsample."),
]
_GOOGLENET = [
    (r"^stem\.0\.", "conv1."),
    (r"^stem\.2\.", "conv2."),
    (r"^stem\.3\.", "conv3."),
    (r"^inception\.(\w\w)\.0\.0\.", r"inception\1.branch1."),  # torchvision's branch1 is a bare conv
    (r"^aux\.4a\.", "aux1."),
    (r"^aux\.4d\.", "aux2."),
]
_INCEPTION_STEM = {"0": "Conv2d_1a_3x3", "1": "Conv2d_2a_3x3", "2": "Conv2d_2b_3x3", "4": "Conv2d_3b_1x1",
                   "5": "Conv2d_4a_3x3"}  # fmt: skip
# torchvision's names of each Inception v3 module's layers: a list a branch (None: the pool), a
# tuple for a branch that splits in two (module E's 1x3 and 3x1 side by side).
_A = [["branch1x1"], ["branch5x5_1", "branch5x5_2"], ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
      [None, "branch_pool"]]  # fmt: skip
_B = [["branch3x3"], ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"], [None]]
_C = [["branch1x1"], ["branch7x7_1", "branch7x7_2", "branch7x7_3"],
      [f"branch7x7dbl_{i}" for i in range(1, 6)], [None, "branch_pool"]]  # fmt: skip
_D = [["branch3x3_1", "branch3x3_2"], [f"branch7x7x3_{i}" for i in range(1, 5)], [None]]
_E = [["branch1x1"], ["branch3x3_1", ("branch3x3_2a", "branch3x3_2b")],
      ["branch3x3dbl_1", "branch3x3dbl_2", ("branch3x3dbl_3a", "branch3x3dbl_3b")],
      [None, "branch_pool"]]  # fmt: skip
_INCEPTION_MODULES = {"5b": _A, "5c": _A, "5d": _A, "6a": _B, "6b": _C, "6c": _C, "6d": _C, "6e": _C,
                      "7a": _D, "7b": _E, "7c": _E}  # fmt: skip


def _by_rules(rules: list[tuple[str, str]]) -> Renamer:
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in rules]

    def rename(key: str) -> str:
        for pattern, replacement in compiled:
            key, count = pattern.subn(replacement, key)
            if count:
                break
        return key

    return rename


def _resnet(key: str) -> str:
    # A block's residual path is [conv, bn], ReLU, [conv, bn](, ReLU, [conv, bn]): torchvision's
    # conv1/bn1, conv2/bn2 (and conv3/bn3 in a bottleneck).
    match = re.match(r"^(layer\d\.\d+)\.residual\.(\d)\.([01])\.(.*)$", key)
    if match:
        block, position, part, rest = match.groups()
        return f"{block}.{'conv' if part == '0' else 'bn'}{int(position) // 2 + 1}.{rest}"
    return _by_rules(_RESNET)(key)


def _googlenet(key: str) -> str:
    match = re.match(r"^inception\.(\w\w)\.([1-3])\.(\d)\.(.*)$", key)  # branches 2-4 are Sequentials
    if match:
        module, branch, layer, rest = match.groups()
        return f"inception{module}.branch{int(branch) + 1}.{layer}.{rest}"
    return _by_rules(_GOOGLENET)(key)


def _inception_v3(key: str) -> str:
    match = re.match(r"^stem\.(\d)\.(.*)$", key)
    if match and match.group(1) in _INCEPTION_STEM:
        return f"{_INCEPTION_STEM[match.group(1)]}.{match.group(2)}"
    match = re.match(r"^mixed\.(\w\w)\.(\d)\.(\d)\.(?:(\d)\.0\.)?(.*)$", key)
    if match and match.group(1) in _INCEPTION_MODULES:
        module, branch, layer, split, rest = match.groups()
        name = _INCEPTION_MODULES[module][int(branch)][int(layer)]
        if isinstance(name, tuple):
            name = name[int(split)]
        return f"Mixed_{module}.{name}.{rest}"
    return re.sub(r"^aux\.", "AuxLogits.", key)


def _identity(key: str) -> str:
    return key


# Families whose names torchvision shares, by the start of the cnnlab model name.
_RENAMERS: dict[str, Renamer] = {
    "alexnet": _identity,
    "vgg": _identity,
    "resnet": _resnet,
    "googlenet": _googlenet,
    "inception-v3": _inception_v3,
}
SUPPORTED = "alexnet, vgg11-vgg19 (with -bn), resnet18-resnet152, googlenet and inception-v3"
# Buffers that carry no learned value: a file may lack them (older torchvision files do).
OPTIONAL_SUFFIXES = (".num_batches_tracked",)
# Auxiliary heads a torchvision file holds and a cnnlab network built without them skips.
AUXILIARY_PREFIXES = ("aux1.", "aux2.", "AuxLogits.", "aux.")


def renamer(model_name: str) -> Renamer | None:
    """The cnnlab-to-torchvision key renaming for ``model_name``, or None if torchvision has no such net."""
    for start, rename in _RENAMERS.items():
        if model_name == start or (start in ("vgg", "resnet") and model_name.startswith(start)):
            return rename
    return None


def torchvision_renamer(model_name: str) -> Renamer:
    """:func:`renamer`, or CheckpointError for a network torchvision does not have."""
    rename = renamer(model_name)
    if rename is None:
        raise CheckpointError(f"torchvision has no {model_name}; cnnlab reads its weights for {SUPPORTED}.")
    return rename


def torchvision_state_dict(model_name: str, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (cnnlab's names) under torchvision's names: what torchvision's ``state_dict()`` holds."""
    rename = torchvision_renamer(model_name)
    return {rename(key): tensor for key, tensor in state.items()}


def uses_torchvision_names(model_name: str, model: nn.Module, file_keys: Iterable[str]) -> bool:
    """Whether a file's keys are torchvision's rather than cnnlab's (the same for AlexNet and VGG)."""
    rename = renamer(model_name)
    if rename is None:
        return False
    keys = set(file_keys)
    ours = list(model.state_dict())
    return sum(rename(k) in keys for k in ours) > sum(k in keys for k in ours)


def load_state(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    rename: Renamer = _identity,
    skip: Callable[[str], bool] = lambda key: False,
    source: str = "the file",
) -> list[str]:
    """Copy ``state`` into ``model``, every tensor checked; return the cnnlab keys that were skipped.

    ``rename`` gives the file's name of each of the model's keys; ``skip(key)`` leaves a model
    tensor as it is (a new classifier). Raises :class:`CheckpointError` naming the first tensor
    that is missing from the file, has another shape, or (in the file) has no place in the model.
    """
    own = model.state_dict()
    wanted = {key: rename(key) for key in own}
    loaded: dict[str, torch.Tensor] = {}
    skipped = []
    for key, file_key in wanted.items():
        if skip(key):
            skipped.append(key)
            continue
        if file_key not in state:
            if key.endswith(OPTIONAL_SUFFIXES):
                continue
            raise CheckpointError(
                f"{source} has no tensor '{file_key}' (the network's '{key}', shape "
                f"{tuple(own[key].shape)}): it is not a state dict of this network, or only part of one."
            )
        tensor = state[file_key]
        if not isinstance(tensor, torch.Tensor) or tensor.shape != own[key].shape:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise CheckpointError(
                f"{source}'s tensor '{file_key}' has shape {shape}, but the network's '{key}' needs "
                f"{tuple(own[key].shape)}: the file is for another network, another form of it "
                "(ImageNet's 224 px vs the small-image one), or its tensors are not where their names say."
            )
        loaded[key] = tensor
    _refuse_leftovers(state, set(wanted.values()), skipped_names={wanted[k] for k in skipped}, source=source)
    own.update({key: tensor.to(own[key].dtype) for key, tensor in loaded.items()})
    model.load_state_dict(own)
    return skipped


def _refuse_leftovers(
    state: Mapping[str, torch.Tensor], used: set[str], skipped_names: set[str], source: str
) -> None:
    """A tensor of the file that no layer takes means a bigger or another network (resnet34 in resnet18)."""
    for name in state:
        if name in used or name in skipped_names or name.startswith(AUXILIARY_PREFIXES):
            continue
        raise CheckpointError(
            f"{source} holds a tensor '{name}' that the network has no layer for: it is the state dict "
            "of another (e.g. deeper) network."
        )
