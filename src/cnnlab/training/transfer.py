"""Transfer learning: start a run from trained weights, freeze some layers, give it a new classifier.

``--init-from RUN|FILE``: the weights of an earlier cnnlab run (its name or folder; its best
checkpoint, else its last), of a cnnlab checkpoint file, or of a state-dict file in cnnlab's or in
torchvision's naming (:mod:`cnnlab.models.torchvision_weights`). From a run or checkpoint the
network is the one it trained (``--model`` may be left out); from a state dict, ``--model`` says
which. Every tensor is checked by name and shape; files are read with ``weights_only=True``.

``--new-head``: the classifier (the last linear layer, and the auxiliary heads' last layers) keeps
its fresh, seeded initialisation for this data's classes instead of the weights' (a 1000-class
ImageNet layer, or the 10 classes of CIFAR-10).

``--freeze PATTERN[,PATTERN...]``: parameters that do not train. ``features`` is everything but the
classifier's last layer (the course's 05_04: VGG-16 frozen, a new last layer for dogs vs cats);
otherwise a module name (``layer1``, every parameter under it) or a glob on parameter names
(``stem.*``, ``*.bn.*``). Batch-norm layers of frozen parts keep their scale and shift but still
update their running statistics in training, as in fastai and PyTorch's own fine-tuning tutorial.

torchvision's weights are for the ImageNet form of a network (7x7 stride-2 stem, 1000 classes),
which cnnlab builds for images of 64 px and up: smaller images are refused with a message that
says to add ``--resize 64`` (every image resized, recorded in the run's config). cnnlab never
downloads weights.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import pickle
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.models.registry import SMALL_INPUT_LIMIT  # under this, cnnlab builds the small-image forms
from cnnlab.runs.checkpoint import CHECKPOINT_FORMAT, find_checkpoint, load_checkpoint
from cnnlab.runs.rundir import RunDir
from cnnlab.training.config import TrainConfig

State = Mapping[str, torch.Tensor]
FEATURES = "features"  # --freeze's word for "everything but the classifier's last layer"
# Keys of a checkpoint's model entry that come from the data, not from the network's settings.
DATA_KWARGS = ("num_classes", "in_channels", "input_size")


@dataclasses.dataclass
class Weights:
    """What ``--init-from`` names: a state dict, where it came from, and the network it trained."""

    state: Mapping[str, torch.Tensor]
    source: str
    model: dict[str, Any] | None  # a cnnlab checkpoint's model entry (name, kwargs); None: a state dict


def check_transfer_settings(config: TrainConfig) -> None:
    if (config.freeze or config.new_head) and not config.init_from:
        raise ConfigError(
            "--freeze and --new-head change weights loaded by --init-from; give --init-from RUN|FILE."
        )


def adopt_source_model(config: TrainConfig) -> TrainConfig:
    """``config`` with the network of the ``--init-from`` run or checkpoint, when ``--model`` is left out.

    Checks the transfer settings first. Raises ConfigError when ``--model`` names another network.
    """
    check_transfer_settings(config)
    if not config.init_from:
        return config
    entry = read_weights(config).model
    if entry is None or entry.get("name") is None:
        return config
    name = entry["name"]
    args = {k: v for k, v in entry.get("kwargs", {}).items() if k not in DATA_KWARGS}
    default_model = next(f.default for f in dataclasses.fields(TrainConfig) if f.name == "model")
    if config.model not in (name, default_model):
        raise ConfigError(
            f"--init-from {config.init_from} holds the weights of {name}, not of {config.model}: "
            f"leave --model out or pass --model {name}."
        )
    return dataclasses.replace(config, model=name, model_args={**args, **config.model_args})


def start_from(model: nn.Module, config: TrainConfig, image_size: tuple[int, int], classes: int) -> None:
    """Load the ``--init-from`` weights into ``model`` (built for this data), then freeze layers."""
    if not config.init_from:
        return
    from cnnlab.models.torchvision_weights import load_state, renamer, uses_torchvision_names

    weights = read_weights(config)
    rename = renamer(config.model) if weights.model is None else None
    if rename is None or not uses_torchvision_names(config.model, model, weights.state):
        rename = _same_name
    heads = head_layers(model)
    if not config.new_head:
        _check_head(weights, rename, model, heads, classes)
    state = _grey_first_conv(model, weights.state, rename)
    try:
        load_state(model, state, rename=rename, skip=_in(heads) if config.new_head else _never,
                   source=weights.source)  # fmt: skip
    except CheckpointError as exc:
        if weights.model is None and min(image_size) < SMALL_INPUT_LIMIT:
            raise CheckpointError(f"{exc} {_resize_hint(config.model, image_size)}") from None
        raise
    freeze(model, config)


def read_weights(config: TrainConfig) -> Weights:
    """The weights ``--init-from`` names: a file, or a run (by folder or by name in the runs dir)."""
    path = Path(str(config.init_from)).expanduser()
    if path.is_file():
        return _read_file(path)
    run = RunDir.find(str(config.init_from), config.runs_dir)
    checkpoint = find_checkpoint(run.root)
    payload = load_checkpoint(checkpoint)
    return Weights(payload["model_state"], str(checkpoint), payload.get("model"))


def head_layers(model: nn.Module) -> list[str]:
    """Module names of the classifier: the last linear layer and those of the same width (auxiliary heads)."""
    linears = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigError(
            f"{type(model).__name__} has no linear classifier for --new-head or --freeze {FEATURES}."
        )
    classes = linears[-1][1].out_features
    return [name for name, module in linears if module.out_features == classes]


def freeze(model: nn.Module, config: TrainConfig) -> list[str]:
    """Set ``requires_grad=False`` on the parameters ``--freeze`` names; return their names."""
    if not config.freeze:
        return []
    names = [name for name, _ in model.named_parameters()]
    in_head = _in(head_layers(model))
    chosen: set[str] = set()
    for pattern in (p.strip() for p in config.freeze.split(",") if p.strip()):
        hits = [n for n in names if (not in_head(n) if pattern == FEATURES else _matches(n, pattern))]
        if not hits:
            raise ConfigError(
                f"--freeze {pattern!r} matches no parameter of {config.model}; its names look like "
                f"{names[0]}, {names[len(names) // 2]}, {names[-1]} (or use --freeze {FEATURES})."
            )
        chosen.update(hits)
    if len(chosen) == len(names):
        raise ConfigError(f"--freeze {config.freeze!r} freezes every parameter: nothing would train.")
    for name, parameter in model.named_parameters():
        if name in chosen:
            parameter.requires_grad_(False)
    return sorted(chosen, key=names.index)


def _read_file(path: Path) -> Weights:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"Refused to load {path}: it holds Python objects that could run code (torch.load with "
            "weights_only=True rejected it). Save the weights as a state dict: "
            "torch.save(model.state_dict(), path)."
        ) from exc
    except (EOFError, zipfile.BadZipFile, RuntimeError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable weights file ({str(exc).splitlines()[0]}).") from exc
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        return Weights(payload["model_state"], str(path), payload.get("model"))
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]  # the common {"state_dict": ...} wrapper
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise CheckpointError(f"{path} is not a state dict (a dict of parameter names to tensors).")
    return Weights(payload, str(path), None)


def _check_head(weights: Weights, rename, model: nn.Module, heads: list[str], classes: int) -> None:
    """A classifier of another width than the data's classes: say to add --new-head."""
    in_head = _in(heads)
    for key, tensor in model.state_dict().items():
        theirs = weights.state.get(rename(key))
        if in_head(key) and isinstance(theirs, torch.Tensor) and theirs.shape != tensor.shape:
            raise ConfigError(
                f"The weights' classifier '{rename(key)}' has shape {tuple(theirs.shape)}, this data has "
                f"{classes} classes: add --new-head to train a new last layer for them."
            )


def _grey_first_conv(model: nn.Module, state: State, rename: Callable[[str], str]) -> State:
    """RGB weights for a network of grey images (MNIST): the first convolution's filters summed over
    their three colour channels (as timm does), which is exact: an RGB filter sees a grey image
    copied into three channels as the summed filter sees the grey image itself."""
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None or first.in_channels != 1 or first.groups != 1:
        return state
    key = rename(next(name for name, m in model.named_modules() if m is first) + ".weight")
    theirs = state.get(key)
    if not isinstance(theirs, torch.Tensor) or theirs.dim() != 4 or theirs.shape[1] != 3:
        return state
    if (theirs.shape[0], *theirs.shape[2:]) != (first.out_channels, *first.kernel_size):
        return state  # another network: load_state names the mismatch
    return {**state, key: theirs.sum(dim=1, keepdim=True)}


def _resize_hint(model_name: str, image_size: tuple[int, int]) -> str:
    height, width = image_size
    return (
        f"If these are torchvision weights: they are for the ImageNet form of {model_name} (a 7x7 stride-2 "
        f"stem, 1000 classes), which cnnlab builds for images of {SMALL_INPUT_LIMIT} px and up; these "
        f"images are {height}x{width}. Add --resize {SMALL_INPUT_LIMIT} (or more) to train on them resized, "
        "or start from a cnnlab run trained at this size."
    )


def _matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern + ".")


def _in(prefixes: list[str]):
    return lambda key: any(key == p or key.startswith(p + ".") for p in prefixes)


def _same_name(key: str) -> str:
    return key


def _never(key: str) -> bool:
    return False
