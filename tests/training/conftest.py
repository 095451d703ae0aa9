"""Fixtures for the training tests (``tiny``, ``ctrl_c_at_step`` and ``interrupted_run`` are in
tests/conftest.py: the fault tests use them too)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from cnnlab.training import TIMING_KEYS


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _learning_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


@pytest.fixture
def same_weights():
    """same_weights(a, b): every parameter and buffer equal to the last bit."""
    return _same_weights


@pytest.fixture
def learning_records():
    """learning_records(records): metrics.jsonl records without their wall-clock entries."""
    return _learning_records
