"""A name -> builder table with a registering decorator, shared by optimizers, losses and schedules.

Listing, lookup and the "did you mean" message all come from the table itself, never from a
hand-kept list of names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from cnnlab.errors import UnknownNameError

Builder = TypeVar("Builder", bound=Callable)


class Registry(Generic[Builder]):
    """Builders registered under names; ``kind`` names them in error messages ("optimizer")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._builders: dict[str, Builder] = {}

    def register(self, name: str) -> Callable[[Builder], Builder]:
        """Decorator: ``@OPTIMIZERS.register("sgd")`` files the function under ``name``."""

        def add(builder: Builder) -> Builder:
            if name in self._builders:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._builders[name] = builder
            return builder

        return add

    def get(self, name: str) -> Builder:
        """The builder for ``name``; :class:`UnknownNameError` listing the known names otherwise."""
        try:
            return self._builders[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._builders) from None

    def names(self) -> list[str]:
        return sorted(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders
