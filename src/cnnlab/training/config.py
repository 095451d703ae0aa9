"""Every setting of a training run, in one dataclass, checked before any work starts.

This module imports no torch, so that the command line can build its flags from it quickly.
A run's settings come from, in increasing priority: the defaults below, a named recipe
(``--recipe``, :mod:`cnnlab.training.recipes`), a TOML or YAML file (``--config``), then keyword
arguments or command-line flags. The resolved settings are written to the run's ``config.json``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.data.padding import PAD_MODES
from cnnlab.errors import ConfigError, UnknownNameError, closest_match

DEVICES = ("auto", "cpu", "cuda", "mps")
# Test-time augmentation of evaluations (cnnlab.training.tta): the image alone, with its mirror image,
# or those two each also shifted by one pixel both ways.
TTA_MODES = ("none", "flip", "flip-shift")


def setting(default: Any = None, help: str = "", *, cli: bool = True, factory: Any = None) -> Any:
    """A TrainConfig field with its help text (shown by ``cnnlab train --help``)."""
    metadata = {"help": help, "cli": cli}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """The hyperparameters and options of one training run.

    The defaults are the ``default`` recipe; what they reach, and how fast, is that recipe's
    ``measured`` field (:mod:`cnnlab.training.recipes`).
    """

    # What to train on what
    model: str = setting("lenet5", "Model name (see `cnnlab models`).")
    model_args: dict[str, Any] = setting(
        help="Extra keyword arguments for the model, e.g. dropout (CLI: --model-arg KEY=VALUE).",
        factory=dict,
        cli=False,
    )
    init_from: str | None = setting(None, "Start from a run's weights or a file (cnnlab/torchvision names).")
    freeze: str | None = setting(None, "With --init-from: fix 'features' (all but the head), a module, glob.")
    new_head: bool = setting(False, "With --init-from: a new last layer for this data's classes.")
    dataset: str = setting("mnist", "mnist, fashion-mnist, cifar10, cifar100 or an image folder.")
    data_dir: str | None = setting(None, "Where datasets are looked for (default: $CNNLAB_DATA, cache).")
    skip_bad_images: bool = setting(False, "Image folders: skip unreadable images (named in a warning).")
    subset: int | None = setting(None, "Train on the first N training images only (a quick check).")
    test_subset: int | None = setting(None, "Evaluate on the first N test images only.")
    val_split: float = setting(0.0, "Fraction of the training images held out for validation.")
    crop_padding: int = setting(0, "Augmentation: random crop after padding by this many pixels.")
    crop_pad_mode: str = setting(
        "zeros", "How --crop-padding fills the border: zeros, or reflect (the image mirrored, as airbench)."
    )
    flip: bool = setting(False, "Augmentation: random horizontal flip.")
    alternate_flips: bool = setting(
        False, "With --flip: mirror each image in every other epoch, a random half first (airbench)."
    )
    resize: int | None = setting(
        None,
        "Resize every image (train, validation, test) to NxN, bilinear, e.g. 64 so that torchvision's "
        "ImageNet-form weights (--init-from) take CIFAR-10 or MNIST.",
    )
    mixup: float | None = setting(
        None,
        "MixUp (Zhang et al. 2018): train on pairs of images blended with a weight from "
        "Beta(ALPHA, ALPHA), the loss blended alike, e.g. 0.2 or 1.0 (classifiers; unset: off).",
    )

    # How long
    epochs: int = setting(1, "Passes over the training images.")
    batch_size: int = setting(64, "Images per optimizer step.")

    # Optimizer
    optimizer: str = setting(
        "adam", "sgd, adam, adamw, rmsprop, adagrad or muon (Muon on conv filters, Nesterov SGD on the rest)."
    )
    lr: float = setting(5e-3, "Peak learning rate.")
    momentum: float = setting(0.9, "SGD momentum.")
    nesterov: bool = setting(False, "SGD with Nesterov momentum.")
    weight_decay: float = setting(
        0.0, "Weight decay (L2 for sgd/adam/rmsprop/adagrad and muon's non-filters, decoupled for adamw)."
    )
    betas: tuple[float, float] = setting((0.9, 0.999), "Adam/AdamW betas, e.g. 0.9,0.999.")
    muon_lr: float = setting(0.24, "Muon: peak learning rate of the convolution filters (--lr: the rest).")
    muon_momentum: float = setting(0.6, "Muon: Nesterov momentum of the filters (--momentum: the rest).")

    # Loss
    loss: str = setting("cross-entropy", "cross-entropy, nll, mse or focal (classifiers).")
    label_smoothing: float = setting(0.0, "Label smoothing of the cross-entropy loss.")
    focal_gamma: float = setting(2.0, "Focusing parameter of the focal loss.")

    # Learning-rate schedule (per step)
    schedule: str = setting("onecycle", "constant, warmup, step, cosine, linear, onecycle or triangle.")
    warmup_epochs: float = setting(0.0, "Linear warm-up before the schedule, in epochs (may be fractional).")
    step_size: int = setting(1, "Step schedule: epochs between decays.")
    step_gamma: float = setting(0.1, "Step schedule: factor applied at each decay.")

    # Evaluation
    ema: float = setting(
        0.0, "Evaluate a moving average of the weights with this decay per step, e.g. 0.99 (0: off)."
    )
    lookahead: float = setting(
        0.0,
        "Every 5 steps, pull the weights back to their running average, with this decay per step "
        "reached at the end (ramped up as the cube of progress), e.g. 0.95 as airbench (0: off).",
    )
    tta: str = setting("none", "Test-time augmentation of evaluations: none, flip or flip-shift.")

    # Stability and stopping
    clip_grad_norm: float | None = setting(None, "Clip the gradients' global L2 norm to this value.")
    early_stop: int = setting(0, "Stop after this many epochs without val-loss improvement (0: off).")

    # Reproducibility and hardware
    seed: int = setting(0, "Seed of initialisation, data order, augmentation and dropout.")
    device: str = setting("auto", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
    amp: bool | None = setting(
        None,
        "Mixed precision: bfloat16 on CPUs with AVX-512 and recent GPUs, else float16 on GPUs and "
        "float32 on other CPUs (default: on for CUDA).",
    )
    channels_last: bool | None = setting(
        None, "channels_last memory format (default: on for networks with convolutions)."
    )
    deterministic: bool | None = setting(
        None, "Deterministic algorithms (default: on for CPU; on GPU it costs speed)."
    )
    threads: int | None = setting(None, "CPU threads (default: all cores).")

    # Run directory and logging
    name: str | None = setting(None, "Run name (default: MODEL-DATASET-TIME).")
    runs_dir: str | None = setting(None, "Where runs go (default: $CNNLAB_RUNS or ./runs).")
    group: str | None = setting(None, "Group of a multi-seed study (set by --seeds).", cli=False)
    recipe_variant: str | None = setting(
        None, "The recipe's variant these settings took: 'float32' on a CPU without bfloat16.", cli=False
    )
    log_every: int = setting(50, "Write a step record to metrics.jsonl every N steps.")
    checkpoint_every: int = setting(500, "Also save checkpoints/last.pt every N steps (0: epochs only).")
    test_every: int = setting(1, "Evaluate on the test set every N epochs (0: only after the last).")
    tensorboard: bool = setting(False, "Also log to TensorBoard in the run directory.")
    curves: bool = setting(True, "Draw curves.png when the run ends (about a second of matplotlib).")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (tuples as lists)."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in self._items()}

    def _items(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "settings") -> TrainConfig:
        """Settings from a mapping (a file, ``config.json``), names and types checked."""
        return cls(**coerce_settings(values, source))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **coerce_settings(changes, "settings"))


def setting_type(name: str) -> Any:
    return _TYPES[name]


def coerce_settings(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check names (dashes accepted for underscores) and convert values to the field types.

    Every problem is reported at once: one alone as itself (:class:`UnknownNameError` for an
    unknown name, :class:`ConfigError` for a wrong type), several as one :class:`ConfigError`
    listing them all.
    """
    result: dict[str, Any] = {}
    problems: list[ConfigError | UnknownNameError] = []
    for raw_name, value in values.items():
        name = str(raw_name).replace("-", "_")
        try:
            if name not in _FIELDS:
                raise UnknownNameError("setting", name, _FIELDS)
            result[name] = _coerce(_TYPES[name], value, name, source)
        except (ConfigError, UnknownNameError) as problem:
            problems.append(problem)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        message = _listing(f"{len(problems)} problems in {source}:", [_problem_line(p) for p in problems])
        unknown = [p for p in problems if isinstance(p, UnknownNameError)]
        if unknown:  # the known names once, not after each unknown one
            message += f"\nKnown settings: {', '.join(unknown[0].known)}."
        raise ConfigError(message)
    return result


def _problem_line(problem: ConfigError | UnknownNameError) -> str:
    """One problem of several: an unknown name with its likely meaning, without the known list."""
    if not isinstance(problem, UnknownNameError):
        return str(problem)
    suggestion = closest_match(problem.name, problem.known)
    return f"Unknown setting '{problem.name}'." + (f" Did you mean '{suggestion}'?" if suggestion else "")


def resolve_config(
    *,
    recipe: str | None = None,
    config_file: str | Path | None = None,
    base: TrainConfig | None = None,
    overrides: Mapping[str, Any] | None = None,
    variant: str | None = None,
) -> TrainConfig:
    """Defaults (or ``base``) <- recipe <- config file <- overrides; validated.

    ``variant="float32"``: the recipe's :attr:`~cnnlab.training.recipes.Recipe.float32_settings`
    go over its settings (still under the file and the overrides), and ``recipe_variant`` records
    it; a recipe without them is unchanged. :mod:`cnnlab.training.float32_recipes` decides when.
    """
    from cnnlab.training.recipes import get_recipe

    values: dict[str, Any] = {}
    file_values = load_config_file(config_file) if config_file else {}
    recipe = file_values.pop("recipe", None) if recipe is None else recipe
    file_values.pop("recipe", None)
    if base is not None:
        values.update(model=base.model, model_args=dict(base.model_args))
    if recipe is not None:
        chosen = get_recipe(recipe)
        _lay_over(values, coerce_settings(chosen.settings, f"recipe '{recipe}'"))
        if variant == "float32" and chosen.float32_settings:
            _lay_over(values, coerce_settings(chosen.float32_settings, f"recipe '{recipe}' (float32)"))
            values["recipe_variant"] = "float32"
    _lay_over(values, coerce_settings(file_values, str(config_file)))
    _lay_over(values, coerce_settings(overrides or {}, "settings"))
    config = dataclasses.replace(base, **values) if base else TrainConfig(**values)
    validate(config)
    return config


def _lay_over(values: dict[str, Any], layer: Mapping[str, Any]) -> None:
    """``values`` updated by one layer of settings. ``model_args`` are merged key by key, so that
    ``--recipe cifar10-quick --model-arg widths=[16,32,32]`` keeps the recipe's stem and residual
    options; a layer that names another model starts that model's options afresh."""
    model_before = values.get("model")
    for key, value in layer.items():
        if key != "model_args":
            values[key] = value
    if "model" in layer and model_before is not None and layer["model"] != model_before:
        values.pop("model_args", None)
    if "model_args" in layer:
        values["model_args"] = {**values.get("model_args", {}), **layer["model_args"]}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A flat table of settings from a ``.toml``, ``.yaml`` or ``.yml`` file.

    A file that does not parse is a :class:`ConfigError` naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"Config file {path} must end in .toml, .yaml or .yml.")
    text = path.read_text(encoding="utf-8")
    try:
        values = _toml().loads(text) if path.suffix == ".toml" else _yaml_load(text)
    except Exception as exc:  # the parsers' own error types differ; all mean "bad syntax"
        raise ConfigError(
            f"Cannot parse {path}{_syntax_error_place(exc)}: {_syntax_error_reason(exc)}"
        ) from exc
    if not isinstance(values, dict):
        raise ConfigError(
            f"{path} must hold a table of settings (name = value), not {type(values).__name__}."
        )
    return values


def validate(config: TrainConfig) -> None:
    """Raise ConfigError listing every impossible value, UnknownNameError for unknown names."""
    # Imported here: this module stays free of torch, so the CLI can build its flags from it fast.
    from cnnlab.training.losses import LOSSES
    from cnnlab.training.optimizers import OPTIMIZERS
    from cnnlab.training.schedules import SCHEDULES

    OPTIMIZERS.get(config.optimizer)
    LOSSES.get(config.loss)
    SCHEDULES.get(config.schedule)
    problems = [problem for check in _CHECKS for problem in check(config)]
    if problems:
        raise ConfigError(_listing("Invalid training settings:", problems))


def _listing(title: str, problems: list[str]) -> str:
    return title + "".join(f"\n  - {problem}" for problem in problems)


# Each check returns every problem it finds (an empty list when there is none), one sentence each.
def _positive_numbers(config: TrainConfig) -> list[str]:
    return [
        f"{name} must be a positive number (got {value})."
        for name, value in (("lr", config.lr), ("muon_lr", config.muon_lr))
        if not (math.isfinite(value) and value > 0)
    ]


def _counts(config: TrainConfig) -> list[str]:
    return [
        f"{name} must be >= {low} (got {value})."
        for name, value, low in (
            ("epochs", config.epochs, 1),
            ("batch_size", config.batch_size, 1),
            ("subset", config.subset, 1),
            ("test_subset", config.test_subset, 1),
            ("step_size", config.step_size, 1),
            ("threads", config.threads, 1),
            ("log_every", config.log_every, 1),
            ("crop_padding", config.crop_padding, 0),
            ("resize", config.resize, 1),
            ("early_stop", config.early_stop, 0),
            ("checkpoint_every", config.checkpoint_every, 0),
            ("test_every", config.test_every, 0),
        )
        if value is not None and value < low
    ]


def _fractions(config: TrainConfig) -> list[str]:
    return [
        f"{name} must be in {interval} (got {value})."
        for name, value, ok, interval in (
            ("val_split", config.val_split, 0 <= config.val_split < 1, "[0, 1)"),
            ("momentum", config.momentum, 0 <= config.momentum < 1, "[0, 1)"),
            ("muon_momentum", config.muon_momentum, 0 <= config.muon_momentum < 1, "[0, 1)"),
            ("label_smoothing", config.label_smoothing, 0 <= config.label_smoothing < 1, "[0, 1)"),
            ("ema", config.ema, 0 <= config.ema < 1, "[0, 1)"),
            ("lookahead", config.lookahead, 0 <= config.lookahead < 1, "[0, 1)"),
            ("step_gamma", config.step_gamma, 0 < config.step_gamma <= 1, "(0, 1]"),
            ("betas", config.betas, all(0 <= b < 1 for b in config.betas), "[0, 1) each"),
        )
        if not ok
    ]


def _non_negative(config: TrainConfig) -> list[str]:
    wrong = [
        f"{name} must be >= 0 (got {value})."
        for name, value in (
            ("weight_decay", config.weight_decay),
            ("focal_gamma", config.focal_gamma),
            ("warmup_epochs", config.warmup_epochs),
        )
        if not value >= 0
    ]
    if config.mixup is not None and not (math.isfinite(config.mixup) and config.mixup > 0):
        wrong.append(f"mixup must be > 0 (got {config.mixup}): the ALPHA of Beta(ALPHA, ALPHA); unset: none.")
    if config.clip_grad_norm is not None and not config.clip_grad_norm > 0:
        wrong.append(
            f"clip_grad_norm must be > 0 (got {config.clip_grad_norm}); leave it unset for no clipping."
        )
    return wrong


def _data_combinations(config: TrainConfig) -> list[str]:
    """Settings of the data and its evaluation that need another one."""
    rules = (
        (
            config.early_stop and not config.val_split,
            "early_stop needs a validation split to watch: add --val-split 0.1.",
        ),
        (
            config.alternate_flips and not config.flip,
            "alternate_flips changes how flips are chosen: add --flip.",
        ),
        (config.tta not in TTA_MODES, f"tta must be one of {', '.join(TTA_MODES)} (got '{config.tta}')."),
        (
            config.crop_pad_mode not in PAD_MODES,
            f"crop_pad_mode must be one of {', '.join(PAD_MODES)} (got '{config.crop_pad_mode}').",
        ),
    )
    return [message for broken, message in rules if broken]


def _optimizer_combinations(config: TrainConfig) -> list[str]:
    """Options of one optimizer or loss given with another."""
    rules = (
        (
            config.nesterov and (config.optimizer != "sgd" or config.momentum == 0),
            "nesterov needs --optimizer sgd with a momentum > 0.",
        ),
        (
            config.label_smoothing and config.loss != "cross-entropy",
            f"label_smoothing applies to the cross-entropy loss, not '{config.loss}'.",
        ),
    )
    return [message for broken, message in rules if broken]


def _schedule_combinations(config: TrainConfig) -> list[str]:
    """A warm-up that is missing or longer than the run."""
    rules = (
        (
            config.schedule == "warmup" and not config.warmup_epochs,
            "the warmup schedule needs --warmup-epochs > 0.",
        ),
        (
            config.epochs >= 1 and config.warmup_epochs >= config.epochs,
            f"warmup_epochs ({config.warmup_epochs}) must be shorter than the run ({config.epochs} epochs).",
        ),
    )
    return [message for broken, message in rules if broken]


def _device(config: TrainConfig) -> list[str]:
    kind, _, index = config.device.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        return [f"device must be one of {', '.join(DEVICES)} or cuda:N (got '{config.device}')."]
    return []


_CHECKS = (
    _positive_numbers,
    _counts,
    _fractions,
    _non_negative,
    _data_combinations,
    _optimizer_combinations,
    _schedule_combinations,
    _device,
)


def _toml() -> types.ModuleType:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli

    return tomli


def _yaml_load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text) or {}


_TOML_PLACE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _syntax_error_place(exc: Exception) -> str:
    """``", line 3, column 5"`` where the parser says where it stopped (PyYAML's mark, TOML's text)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return f", line {mark.line + 1}, column {mark.column + 1}"
    found = _TOML_PLACE.search(str(exc))
    return f", line {found[1]}, column {found[2]}" if found else ""


def _syntax_error_reason(exc: Exception) -> str:
    """The parser's own words, without its place (said once, before them) or a multi-line excerpt."""
    problem = getattr(exc, "problem", None)  # PyYAML
    if problem:
        return str(problem)
    return _TOML_PLACE.sub("", str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _coerce(kind: Any, value: Any, name: str, source: str) -> Any:
    """``value`` as the field type ``kind``; a ConfigError naming the setting otherwise."""
    options = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else ()
    if options:
        if value is None and type(None) in options:
            return None
        kind = next(option for option in options if option is not type(None))
    try:
        return _convert(kind, value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {value!r} in {source} is not a valid {_type_name(kind)}.") from None


def _convert(kind: Any, value: Any) -> Any:
    """``value`` as ``kind`` (a plain type, a tuple of them, or a dict); ValueError if it is not one."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        return _to_tuple(typing.get_args(kind), value)
    if origin is dict:
        return _to_dict(value)
    if kind in _CONVERTERS:
        return _CONVERTERS[kind](value)
    raise TypeError(f"no conversion to {kind}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ValueError


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)  # also YAML's "1e-3", which PyYAML reads as a string


def _to_str(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError
    return str(value)


def _to_tuple(item_types: tuple[Any, ...], value: Any) -> tuple:
    items = value.split(",") if isinstance(value, str) else list(value)
    if len(items) != len(item_types):
        raise ValueError
    return tuple(_convert(t, item) for t, item in zip(item_types, items, strict=True))


def _to_dict(value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise ValueError
    return dict(value)


_CONVERTERS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return f"pair of numbers like {','.join('0.9' for _ in typing.get_args(kind))}"
    if typing.get_origin(kind) is dict:
        return "table of name = value"
    return {bool: "true/false", int: "whole number", float: "number", str: "text"}.get(kind, str(kind))


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = typing.get_type_hints(TrainConfig)
