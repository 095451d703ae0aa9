"""The search space of a sweep: which settings vary, over what, and which stay fixed.

A space names only settings of ``cnnlab train`` (the fields of
:class:`~cnnlab.training.config.TrainConfig`) or model options (``model_args.KEY``, what
``--model-arg KEY=VALUE`` sets). Each varying setting is one of::

    lr = "log:1e-4:1e-1"          # a float (or whole number, for an int setting) on a log scale
    momentum = "float:0.8:0.99"   # a float, linear; "float:0:0.5:0.1" steps by 0.1
    batch_size = "int:32:256:32"  # a whole number, linear, optionally stepped
    optimizer = "choice:sgd,adam" # one of the values (in a TOML file also a list: ["sgd", "adam"])

A value without a kind (``epochs=3``) is a fixed setting. :func:`build_space` checks everything
(names, syntax, empty or inverted ranges, and every range end against the trainer's own validation)
and raises one :class:`~cnnlab.errors.ConfigError` that lists all problems, before any training.
This module imports no torch.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError, ConfigError, UsageError, unknown_name_message
from cnnlab.training import config as train_config

KINDS = ("float", "log", "int", "choice")
MODEL_ARGS = "model_args"
# Settings the sweep itself sets (the trial's run name and group, where runs go) or that would let
# the test set into the search (it is used once, by the final runs).
NOT_SEARCHABLE = (
    "name", "group", "runs_dir", "dataset", "data_dir", "test_subset", "test_every", MODEL_ARGS,
)  # fmt: skip
NOT_FIXABLE = ("name", "group")
# What Optuna can store as a choice; other values (a pair of betas) are kept as text.
_PRIMITIVE = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Param:
    """One varying setting: ``kind`` float/log/int over [low, high] (``step`` apart), or choice."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    integer: bool = False  # suggested as a whole number (int settings, "int:" model options)

    def suggest(self, trial: Any) -> Any:
        """This parameter's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        log = self.kind == "log"
        if self.integer:
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=log)

    def extremes(self) -> list[Any]:
        """The values that bound this parameter: both range ends, or every choice."""
        if self.kind == "choice":
            return list(self.choices)
        ends = [self.low, self.high]
        return [int(v) for v in ends] if self.integer else ends

    def describe(self) -> str:
        """The spec as a user writes it: ``log:0.0001:0.1``."""
        if self.kind == "choice":
            return "choice:" + ",".join(str(c) for c in self.choices)
        kind = "int" if self.integer and self.kind == "float" else self.kind
        text = f"{kind}:{_number(self.low)}:{_number(self.high)}"
        return text + (f":{_number(self.step)}" if self.step is not None else "")


@dataclass(frozen=True)
class SearchSpace:
    """The varying parameters and the fixed settings of every trial."""

    params: tuple[Param, ...]
    fixed: Mapping[str, Any]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The settings of one trial: the fixed ones plus one value per parameter."""
        return settings_with(self.fixed, {p.name: p.suggest(trial) for p in self.params})

    def describe(self) -> dict[str, Any]:
        """JSON-ready: what a study records, so a resumed sweep can check it has the same space."""
        return {"search": {p.name: p.describe() for p in self.params}, "fixed": _jsonable(dict(self.fixed))}


def settings_with(fixed: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Fixed settings updated with parameter values; ``model_args.KEY`` goes into ``model_args``."""
    settings = {k: (dict(v) if k == MODEL_ARGS else v) for k, v in fixed.items()}
    for name, value in values.items():
        if name.startswith(MODEL_ARGS + "."):
            settings.setdefault(MODEL_ARGS, {})[name.split(".", 1)[1]] = value
        else:
            settings[name] = train_config.coerce_settings({name: value}, "the sweep")[name]
    return settings


# -- building a space --------------------------------------------------------------------------
def build_space(
    search: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    *,
    params: Sequence[str] = (),
    space_file: str | Path | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> SearchSpace:
    """A checked space from a TOML file's ``[search]`` and ``[fixed]`` tables, ``--param NAME=SPEC``
    strings and Python mappings (later sources override earlier ones; ``defaults`` are fixed settings
    under all of them, unless searched); all problems in one error."""
    problems: list[str] = []
    searched: dict[str, Any] = {}
    fixed_values: dict[str, Any] = dict(defaults or {})
    if space_file is not None:
        file_search, file_fixed = _read_space_file(Path(space_file), problems)
        searched.update(file_search)
        fixed_values.update(file_fixed)
    for text in params:
        name, spec = _split_param(text, problems)
        if name is None:
            continue
        (searched if _is_spec(spec) else fixed_values)[name] = spec
        (fixed_values if _is_spec(spec) else searched).pop(name, None)
    searched.update(_flatten(search or {}))
    for name, value in _flatten(fixed or {}).items():
        fixed_values[name] = value
    for name in set(searched) & set(defaults or {}):
        fixed_values.pop(name, None)
    checked_fixed = _check_fixed(fixed_values, problems)
    parsed = [param for name, spec in searched.items() if (param := _parse_param(name, spec, problems))]
    both = sorted(set(searched) & set(fixed_values))
    problems += [f"{name} is both searched and fixed: keep one." for name in both]
    # The settings that passed so far are also checked by the trainer, so all problems show at once.
    problems += _check_model_args(checked_fixed, parsed)
    problems += _check_against_trainer(checked_fixed, [p for p in parsed if p.name not in both])
    if problems:
        raise ConfigError("Invalid sweep space:\n" + "\n".join(f"  - {p}" for p in _unique(problems)))
    return SearchSpace(params=tuple(parsed), fixed=checked_fixed)


def _read_space_file(path: Path, problems: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[search]`` and ``[fixed]`` tables of a TOML (or YAML) space file."""
    try:
        values = train_config.load_config_file(path)
    except CnnlabError as exc:
        problems.append(str(exc))
        return {}, {}
    unknown = sorted(set(values) - {"search", "fixed"})
    if unknown:
        problems.append(
            f"{path}: unknown table(s) {', '.join(unknown)}; a space file has [search] "
            "(the varying settings) and [fixed] (any cnnlab train setting)."
        )
    tables = []
    for key in ("search", "fixed"):
        table = values.get(key, {})
        if not isinstance(table, Mapping):
            problems.append(f"{path}: [{key}] must be a table of name = value.")
            table = {}
        tables.append(_flatten(table))
    search, fixed = tables
    for name, spec in search.items():
        if not _is_spec(spec):
            problems.append(
                f"{name} = {spec!r} in [search] is not a range or a list of choices "
                '(e.g. "log:1e-4:1e-1"); a fixed value goes in [fixed].'
            )
    return {k: v for k, v in search.items() if _is_spec(v)}, fixed


def _flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model_args": {"dropout": ...}}`` (TOML's dotted keys) -> ``{"model_args.dropout": ...}``;
    names with dashes become underscores, as on the command line."""
    flat = {}
    for raw_name, value in table.items():
        name = str(raw_name).replace("-", "_")
        if name in (MODEL_ARGS, "model_arg") and isinstance(value, Mapping):
            flat.update({f"{MODEL_ARGS}.{key}": item for key, item in value.items()})
        elif name.startswith("model_arg.") or name.startswith("model_args."):
            flat[f"{MODEL_ARGS}.{name.split('.', 1)[1]}"] = value
        else:
            flat[name] = value
    return flat


def _split_param(text: str, problems: list[str]) -> tuple[str | None, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip():
        problems.append(f"--param {text!r}: write NAME=SPEC, e.g. --param 'lr=log:1e-4:1e-1'.")
        return None, ""
    return next(iter(_flatten({name.strip(): spec.strip()}))), spec.strip()


def _is_spec(value: Any) -> bool:
    """A list (choices) or text starting with a kind and a colon."""
    if isinstance(value, list | tuple):
        return True
    return isinstance(value, str) and value.split(":", 1)[0].strip().lower() in KINDS and ":" in value


def _check_fixed(values: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """Fixed settings converted to their types; unknown names and bad values listed in problems."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith(MODEL_ARGS + "."):
            checked.setdefault(MODEL_ARGS, {})[name.split(".", 1)[1]] = value
            continue
        if _unknown_setting(name, problems):
            continue
        if name in NOT_FIXABLE:
            problems.append(
                f"{name} is set by the sweep for each trial (its runs are NAME-trialN, group NAME)."
            )
            continue
        try:
            checked.update(train_config.coerce_settings({name: value}, "the sweep's fixed settings"))
        except ConfigError as exc:
            problems.append(str(exc))
    return checked


def _unknown_setting(name: str, problems: list[str]) -> bool:
    names = [f.name for f in dataclasses.fields(train_config.TrainConfig)]
    if name in names:
        return False
    problems.append(unknown_name_message("setting", name, names))
    return True


def _parse_param(name: str, spec: Any, problems: list[str]) -> Param | None:
    """One varying parameter from its spec, or None (with the reasons in ``problems``)."""
    model_option = name.startswith(MODEL_ARGS + ".")
    if not model_option:
        if _unknown_setting(name, problems):
            return None
        if name in NOT_SEARCHABLE:
            problems.append(f"{name} cannot be searched: {_not_searchable_reason(name)}")
            return None
    kind_of_setting = None if model_option else _plain_type(train_config.setting_type(name))
    if isinstance(spec, list | tuple):
        return _choice(name, list(spec), kind_of_setting, problems)
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "choice":
        return _choice(name, [c.strip() for c in rest.split(",") if c.strip()], kind_of_setting, problems)
    return _range(name, kind, rest, kind_of_setting, problems)


def _not_searchable_reason(name: str) -> str:
    if name == MODEL_ARGS:
        return "search each model option as model_args.KEY, e.g. model_args.dropout=float:0:0.5."
    if name in ("dataset", "data_dir", "test_subset", "test_every"):
        return "a sweep searches on one dataset, and never looks at its test set until the final runs."
    return "the sweep sets it for every trial."


def _choice(name: str, choices: list[Any], kind: Any, problems: list[str]) -> Param | None:
    if not choices:
        problems.append(f"{name}: the list of choices is empty.")
        return None
    if len(set(map(str, choices))) != len(choices):
        problems.append(f"{name}: a choice is listed twice ({', '.join(map(str, choices))}).")
        return None
    values = []
    for choice in choices:
        if kind is None:  # a model option: the YAML reading of --model-arg (numbers, booleans)
            values.append(_model_arg_value(choice))
            continue
        try:
            values.append(train_config.coerce_settings({name: choice}, "the choices")[name])
        except ConfigError as exc:
            problems.append(str(exc))
            return None
    return Param(name, "choice", choices=tuple(v if isinstance(v, _PRIMITIVE) else _text(v) for v in values))


def _range(name: str, kind: str, rest: str, setting_kind: Any, problems: list[str]) -> Param | None:
    parts = [p.strip() for p in rest.split(":")]
    example = f"{name}={kind}:LOW:HIGH" + ("" if kind == "log" else "[:STEP]")
    if len(parts) not in (2, 3) or (kind == "log" and len(parts) == 3):
        problems.append(f"{name}: write {example} (got {kind}:{rest}).")
        return None
    try:
        low, high, *step = [float(p) for p in parts]
    except ValueError:
        problems.append(f"{name}: {kind}:{rest} has a bound that is not a number; write {example}.")
        return None
    if setting_kind in (bool, str, tuple):
        what = {bool: "true or false", str: "a name", tuple: "a pair"}[setting_kind]
        problems.append(f"{name} is {what}, not a number: search it with choice:A,B.")
        return None
    integer = kind == "int" or setting_kind is int
    if setting_kind is int and kind == "float":
        problems.append(f"{name} takes whole numbers: write int:{rest} or log:{rest}.")
        return None
    if integer and not all(v.is_integer() for v in (low, high, *step)):
        problems.append(f"{name}: {kind}:{rest} must have whole-number bounds and step.")
        return None
    problem = _range_problem(name, kind, low, high, step[0] if step else None)
    if problem:
        problems.append(problem)
        return None
    return Param(name, kind, low=low, high=high, step=step[0] if step else None, integer=integer)


def _range_problem(name: str, kind: str, low: float, high: float, step: float | None) -> str | None:
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{name}: the bounds must be finite numbers."
    written = f"{kind}:{_number(low)}:{_number(high)}"
    if low == high:
        return f"{name}: the range {written} is empty; a single value is fixed: {name}={_number(low)}."
    if low > high:
        return f"{name}: the range {written} is inverted; write {kind}:{_number(high)}:{_number(low)}."
    if kind == "log" and low <= 0:
        return f"{name}: a log range needs a positive lower bound (got {_number(low)})."
    if step is not None and not 0 < step <= high - low:
        width = _number(high - low)
        return f"{name}: the step {_number(step)} must be > 0 and at most the range's width {width}."
    return None


def _check_model_args(fixed: Mapping[str, Any], params: Sequence[Param]) -> list[str]:
    """Model options the model has no parameter for (all of them, with the ones it has)."""
    keys = set(fixed.get(MODEL_ARGS, {})) | {
        p.name.split(".", 1)[1] for p in params if p.name.startswith(MODEL_ARGS + ".")
    }
    if not keys:
        return []
    from cnnlab.models import get_info

    model = fixed.get("model", train_config.TrainConfig.model)
    try:
        parameters = inspect.signature(get_info(model).builder).parameters
    except CnnlabError as exc:
        return [str(exc)]
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return []
    accepted = list(parameters)[3:]  # after num_classes, in_channels, input_size
    unknown = sorted(keys - set(accepted))
    if not unknown:
        return []
    return [
        f"Model '{model}' has no option {', '.join(unknown)}. Its options: {', '.join(accepted) or 'none'}."
    ]


def _check_against_trainer(fixed: Mapping[str, Any], params: Sequence[Param]) -> list[str]:
    """The trainer's own validation on the fixed settings, then on each parameter's range ends and
    choices with the others fixed: ``momentum=float:0:1.5`` fails as ``momentum = 1.5`` would."""
    problems = _trainer_problems(fixed, "")
    for param in params:
        if param.name.startswith(MODEL_ARGS + "."):
            continue
        for value in param.extremes():
            own = _trainer_problems(settings_with(fixed, {param.name: value}), "")
            problems += [f"{param.name} = {value}: {p}" for p in own if p not in problems]
    return problems


def _trainer_problems(settings: Mapping[str, Any], prefix: str) -> list[str]:
    try:
        train_config.resolve_config(overrides=settings)
    except UsageError as exc:  # ConfigError, or UnknownNameError for an optimizer, loss or schedule
        lines = [line.strip()[2:] for line in str(exc).splitlines() if line.strip().startswith("- ")]
        return [prefix + line for line in lines] or [prefix + str(exc)]
    return []


# -- small helpers ---------------------------------------------------------------------------------
def _plain_type(kind: Any) -> Any:
    """int, float, bool, str or tuple: the setting's type without ``| None``."""
    options = [k for k in typing.get_args(kind) if k is not type(None)] if typing.get_args(kind) else [kind]
    plain = options[0] if typing.get_origin(kind) not in (tuple, dict) else kind
    return typing.get_origin(plain) or plain


def _model_arg_value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _number(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


__all__ = ["KINDS", "Param", "SearchSpace", "build_space", "settings_with"]
