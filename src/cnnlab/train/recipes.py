"""Named presets of training settings (``cnnlab train --recipe NAME``).

A recipe is a set of :class:`~cnnlab.train.config.TrainConfig` values; flags and ``--config``
files still override it. Each recipe says what it achieves, on what hardware, measured by which
command, in the style of airbench's header.

``default``: LeNet-5 on MNIST, the settings of a bare ``cnnlab train`` (TrainConfig's defaults).
MEASURED_DEFAULT below records the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnlab.errors import UnknownNameError


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    settings: dict[str, Any] = field(default_factory=dict)
    measured: str = ""  # the result and the command that measured it


RECIPES: dict[str, Recipe] = {}


def add_recipe(recipe: Recipe) -> Recipe:
    """Register ``recipe`` under its name (once)."""
    if recipe.name in RECIPES:
        raise ValueError(f"recipe {recipe.name!r} is defined twice")
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise UnknownNameError("recipe", name, RECIPES) from None


def list_recipes() -> list[Recipe]:
    return [RECIPES[name] for name in sorted(RECIPES)]


MEASURED_DEFAULT = "(to be measured)"

add_recipe(
    Recipe(
        name="default",
        summary="LeNet-5 on MNIST, Adam with a one-cycle schedule: what `cnnlab train` runs.",
        settings={},
        measured=MEASURED_DEFAULT,
    )
)
