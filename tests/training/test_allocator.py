"""The allocator setting of cnnlab.training.allocator: raised on glibc, left alone when the user chose."""

from __future__ import annotations

import sys

import pytest

from cnnlab.training import allocator

raise_thresholds = allocator.keep_freed_memory.__wrapped__  # uncached: each test calls it afresh


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_thresholds_are_raised_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in allocator.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    if allocator._glibc() is None:
        pytest.skip("not glibc")
    assert raise_thresholds() is True


@pytest.mark.parametrize("name", allocator.USER_SETTINGS)
def test_a_users_own_setting_is_kept(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "1")
    assert raise_thresholds() is False


def test_no_glibc_means_no_change(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in allocator.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    assert raise_thresholds() is False
