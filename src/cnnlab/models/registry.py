"""The model registry: a decorator registers each builder under its name; ``create`` builds by name.

Listing, filtering and unknown-name suggestions all come from this one table, never from a
hand-kept list. A builder has the signature::

    builder(num_classes: int, in_channels: int, input_size: tuple[int, int], **kwargs) -> nn.Module

``input_size`` always reaches the builder as an ``(H, W)`` tuple; ``create`` accepts an int too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlab.errors import ConfigError, ModelError
from cnnlab.formatting import format_shape
from cnnlab.models.tracing import InputTooSmallError, check_input_fits
from cnnlab.registry import Registry

TASKS = ("classify", "autoencoder", "rbm")
# Below this many pixels (the shorter side) a family builds its small-input (CIFAR/MNIST) form.
SMALL_INPUT_LIMIT = 64
# The largest side tried when looking for the smallest input a model accepts (for error messages).
_LARGEST_PROBE = 1024

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model, without building it."""

    name: str
    family: str
    paper: str
    year: int | None  # None for the course's own models, which have no paper
    task: str
    default_input: tuple[int, int, int]  # (C, H, W) used when no input is given
    paper_input: tuple[int, int, int]  # (C, H, W) of the paper's (or reference's) original form
    paper_classes: int  # classes of the original form (1000 for ImageNet)
    description: str  # the first line of the builder's docstring
    builder: Builder = field(repr=False, compare=False)


MODELS: Registry[ModelInfo] = Registry("model")


def register(
    name: str,
    *,
    family: str,
    paper: str,
    year: int | None,
    task: str = "classify",
    default_input: tuple[int, int, int] = (3, 32, 32),
    paper_input: tuple[int, int, int] | None = None,
    paper_classes: int = 10,
) -> Callable[[Builder], Builder]:
    """Register ``builder`` under ``name`` (decorator). ``paper_input`` defaults to ``default_input``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")

    def decorate(builder: Builder) -> Builder:
        doc = inspect.getdoc(builder) or ""
        info = ModelInfo(
            name=name,
            family=family,
            paper=paper,
            year=year,
            task=task,
            default_input=tuple(default_input),
            paper_input=tuple(paper_input or default_input),
            paper_classes=paper_classes,
            description=doc.splitlines()[0] if doc else "",
            builder=builder,
        )
        MODELS.add(name, info)
        return builder

    return decorate


def list_models(family: str | None = None, task: str | None = None) -> list[ModelInfo]:
    """Registered models in registration order, optionally only one family and/or task."""
    return MODELS.filter(family=family, task=task)


def families() -> list[str]:
    """The family names, in registration order."""
    return list(dict.fromkeys(info.family for info in MODELS.values()))


def get_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of ``name``; :class:`UnknownNameError` (with a suggestion) otherwise."""
    return MODELS.get(name)


def normalize_input_size(input_size: int | Sequence[int]) -> tuple[int, int]:
    """``32`` or ``(32, 32)`` -> ``(32, 32)``; refuse anything that is not one or two positive ints."""
    if isinstance(input_size, int):
        sizes = (input_size, input_size)
    elif isinstance(input_size, Sequence) and not isinstance(input_size, str):
        sizes = tuple(input_size)
    else:
        sizes = ()
    if len(sizes) != 2 or not all(isinstance(s, int) and s >= 1 for s in sizes):
        raise ConfigError(f"input_size must be a positive int or (H, W), not {input_size!r}.")
    return sizes


def small_input(input_size: tuple[int, int]) -> bool:
    """True when a family should build its small-input (28x28 / 32x32) form."""
    return min(input_size) < SMALL_INPUT_LIMIT


def create(
    name: str,
    num_classes: int = 10,
    in_channels: int = 3,
    input_size: int | Sequence[int] = 32,
    **kwargs,
) -> nn.Module:
    """Build model ``name`` for ``in_channels`` x ``input_size`` inputs and ``num_classes`` outputs.

    Raises :class:`UnknownNameError` for an unknown name, :class:`ConfigError` for a bad argument,
    and :class:`ModelError` naming the layer where the feature map would shrink below one pixel
    when the input is too small for the network. Build under ``with torch.device("meta"):`` to get
    a model without memory (for counting parameters and MACs).
    """
    info = get_info(name)
    size = normalize_input_size(input_size)
    for label, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{label} must be a positive int, not {value!r}.")
    _check_kwargs(info, kwargs)
    shape = (in_channels, *size)
    try:
        model = info.builder(num_classes, in_channels, size, **kwargs)
        if not hasattr(model, "input_scale"):
            model.input_scale = "standardized"
        check_input_fits(model, shape)
    except InputTooSmallError as exc:
        raise ModelError(_too_small_message(info, shape, num_classes, kwargs, exc)) from exc
    except ModelError as exc:
        raise ModelError(f"Model '{name}' cannot take a {format_shape(shape)} input: {exc}") from exc
    return model


def _check_kwargs(info: ModelInfo, kwargs: dict) -> None:
    parameters = inspect.signature(info.builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = list(parameters)[3:]  # after num_classes, in_channels, input_size
    for key in kwargs:
        if key not in accepted:
            options = ", ".join(accepted) if accepted else "none"
            raise ConfigError(f"Model '{info.name}' has no option '{key}'. Its options: {options}.")


def _too_small_message(
    info: ModelInfo, shape: tuple[int, int, int], num_classes: int, kwargs: dict, exc: Exception
) -> str:
    """The layer that fails, and the smallest square input that fits, as a hint.

    A family's small and large forms are different networks, so the search runs within the form
    the request falls in (or in the large one when no small input fits at all).
    """
    message = f"Model '{info.name}' cannot take a {format_shape(shape)} input: {exc}."

    def fits(side: int) -> bool:
        try:
            with torch.device("meta"):  # no memory, fast
                model = info.builder(num_classes, shape[0], (side, side), **kwargs)
            check_input_fits(model, (shape[0], side, side))
        except ModelError:
            return False
        return True

    largest_small = SMALL_INPUT_LIMIT - 1
    if small_input(shape[1:]) and fits(largest_small):
        smallest, qualifier = _smallest_fitting(fits, 1, largest_small), ""
    else:
        smallest = _smallest_fitting(fits, SMALL_INPUT_LIMIT, _LARGEST_PROBE)
        qualifier = "" if small_input(shape[1:]) else f" of {SMALL_INPUT_LIMIT} px or more"
    if smallest is not None:
        message += f" The smallest square input{qualifier} it accepts is {smallest}x{smallest}."
    return message


def _smallest_fitting(fits: Callable[[int], bool], low: int, high: int) -> int | None:
    """Bisect for the smallest side in [low, high] that fits (fitting is monotonic within a form)."""
    if not fits(high):
        return None
    while low < high:  # invariant: high fits
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    return high


def factory_label(factory: Callable, *, qualified: bool = False) -> str:
    """A model factory's (or class's) name for people: ``small_alexnet(0.25)`` for a
    ``functools.partial``, prefixed with its module when ``qualified``."""
    if isinstance(factory, functools.partial):
        arguments = [repr(a) for a in factory.args] + [f"{k}={v!r}" for k, v in factory.keywords.items()]
        return f"{factory_label(factory.func, qualified=qualified)}({', '.join(arguments)})"
    name = getattr(factory, "__qualname__", None) or type(factory).__name__
    module = getattr(factory, "__module__", None)
    return f"{module}.{name}" if qualified and module else name
