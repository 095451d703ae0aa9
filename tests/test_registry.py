"""The one registry every name table uses: filing, look-up with a suggestion, order, filter, copy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cnnlab.errors import UnknownNameError
from cnnlab.registry import Registry, lowercase


@dataclass(frozen=True)
class Thing:
    name: str
    colour: str


def test_items_are_filed_once_and_found_by_name():
    things: Registry[Thing] = Registry("thing")
    things.add("apple", Thing("apple", "red"))

    @things.register("pear")
    def pear():
        return "pear"

    assert things.get("apple").colour == "red" and things["pear"] is pear
    assert "apple" in things and "plum" not in things and 3 not in things
    with pytest.raises(ValueError, match="registered twice"):
        things.add("apple", Thing("apple", "green"))


def test_an_unknown_name_suggests_the_closest_and_lists_all():
    things: Registry[str] = Registry("thing", hint="See `thing list`.")
    for name in ("apple", "pear"):
        things.add(name, name)
    with pytest.raises(UnknownNameError) as caught:
        things.get("appel")
    expected = "Unknown thing 'appel'. Did you mean 'apple'? Known things: apple, pear. See `thing list`."
    assert str(caught.value) == expected
    assert isinstance(caught.value, KeyError)  # so `registry[name]` behaves as a mapping's
    assert things.get("appel", None) is None  # dict.get's answer, given a default


def test_order_is_registration_or_alphabetical():
    for order, expected in (("registered", ["b", "a", "c"]), ("sorted", ["a", "b", "c"])):
        things: Registry[int] = Registry("thing", order=order)
        for index, name in enumerate("bac"):
            things.add(name, index)
        assert things.names() == list(things) == expected
        assert things.values() == [things[name] for name in expected]


def test_normalize_applies_to_filing_and_looking_up():
    things: Registry[int] = Registry("dataset", normalize=lowercase)
    things.add("CIFAR10", 1)
    assert things.get("cifar10") == things.get("Cifar10") == 1 and things.names() == ["cifar10"]


def test_filter_matches_fields_and_ignores_none():
    things: Registry[Thing] = Registry("thing")
    for thing in (Thing("apple", "red"), Thing("cherry", "red"), Thing("pear", "green")):
        things.add(thing.name, thing)
    assert [t.name for t in things.filter(colour="red")] == ["apple", "cherry"]
    assert len(things.filter(colour=None)) == 3


def test_a_copy_is_independent():
    things: Registry[int] = Registry("thing", order="sorted")
    things.add("a", 1)
    twin = things.copy()
    twin.add("b", 2)
    assert things.names() == ["a"] and twin.names() == ["a", "b"] and twin.order == "sorted"
