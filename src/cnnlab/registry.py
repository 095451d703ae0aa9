"""cnnlab's one registry: things filed under names, looked up with a did-you-mean when a name is unknown.

Models, datasets, training recipes, course experiments, losses, optimizers and schedules each keep
one :class:`Registry`. It is the single place for what every name table needs:

- ``register(name)`` (a decorator) or ``add(name, item)`` files an item, once;
- ``get(name)`` returns it, or raises :class:`~cnnlab.errors.UnknownNameError` with the closest
  known name as a suggestion ("Unknown model 'resnet19'. Did you mean 'resnet18'? ...");
- ``names()``, ``values()`` and ``filter(**fields)`` list them, in registration order or
  alphabetically (``order="sorted"``), never from a hand-kept list of names;
- ``normalize`` (identity, or :func:`lowercase` where a kind is case-insensitive, as datasets are)
  is applied to every name that is filed or looked up.

A registry is a mapping from name to item, so ``name in registry``, ``registry[name]``,
``len(registry)`` and iteration work as on a dict. ``copy()`` gives an independent registry (tests
register temporary items in a copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, Literal, TypeVar

from cnnlab.errors import UnknownNameError

Item = TypeVar("Item")
Order = Literal["registered", "sorted"]
_NO_DEFAULT = object()


def same_name(name: str) -> str:
    """Names are compared as written (the default)."""
    return name


def lowercase(name: str) -> str:
    """Names are compared without regard to case ("CIFAR10" is "cifar10")."""
    return name.lower()


class Registry(MutableMapping[str, Item], Generic[Item]):
    """Items of one ``kind`` ("model", "optimizer", ...) filed under unique names.

    ``kind`` names them in error messages; ``order`` is how :meth:`names` and :meth:`values` list
    them; ``normalize`` maps a name to its key; ``hint`` is added to the unknown-name message
    (e.g. where to see the full list).
    """

    def __init__(
        self,
        kind: str,
        *,
        order: Order = "registered",
        normalize: Callable[[str], str] = same_name,
        hint: str | None = None,
    ):
        self.kind, self.order, self.normalize, self.hint = kind, order, normalize, hint
        self._items: dict[str, Item] = {}

    # -- filing ---------------------------------------------------------------------------------
    def add(self, name: str, item: Item) -> Item:
        """File ``item`` under ``name``; a name filed twice is a programming error (ValueError)."""
        key = self.normalize(name)
        if key in self._items:
            raise ValueError(
                f"{self.kind} {name!r} is registered twice (defined twice, or its module imported "
                "under two names)"
            )
        self._items[key] = item
        return item

    def register(self, name: str) -> Callable[[Item], Item]:
        """Decorator: ``@OPTIMIZERS.register("sgd")`` files the decorated function under ``name``."""

        def decorate(item: Item) -> Item:
            return self.add(name, item)

        return decorate

    # -- looking up -----------------------------------------------------------------------------
    def get(self, name: str, default: Any = _NO_DEFAULT) -> Item:  # type: ignore[override]
        """The item filed under ``name``; :class:`UnknownNameError` with a suggestion otherwise.

        With a ``default`` it answers as ``dict.get`` does (the default for an unknown name).
        """
        try:
            return self._items[self.normalize(name)]
        except (KeyError, AttributeError):  # AttributeError: not a string at all
            if default is not _NO_DEFAULT:
                return default
            raise UnknownNameError(self.kind, str(name), self.names(), self.hint) from None

    def names(self) -> list[str]:
        """The names, in this registry's order."""
        return sorted(self._items) if self.order == "sorted" else list(self._items)

    def values(self) -> list[Item]:  # type: ignore[override]
        """The items, in this registry's order."""
        return [self._items[name] for name in self.names()]

    def filter(self, **fields: Any) -> list[Item]:
        """The items whose attributes equal the given values; a value of None matches anything.

        ``MODELS.filter(family="resnet", task=None)`` is every ResNet.
        """
        wanted = {key: value for key, value in fields.items() if value is not None}
        return [item for item in self.values() if all(getattr(item, k) == v for k, v in wanted.items())]

    def copy(self) -> Registry[Item]:
        """An independent registry with the same settings and items."""
        twin: Registry[Item] = Registry(self.kind, order=self.order, normalize=self.normalize, hint=self.hint)
        twin._items = dict(self._items)
        return twin

    # -- the mapping protocol ---------------------------------------------------------------------
    def __getitem__(self, name: str) -> Item:
        return self.get(name)

    def __setitem__(self, name: str, item: Item) -> None:
        """Replace or add an item (tests patch entries so); :meth:`add` refuses duplicates."""
        self._items[self.normalize(name)] = item

    def __delitem__(self, name: str) -> None:
        del self._items[self.normalize(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.normalize(name) in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} items)"
