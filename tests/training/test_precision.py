"""What a run trained in, recorded in environment.json: bfloat16 where asked for and fast, the
float32 fallback on a CPU without bfloat16 kernels (issue 20), and the CPU's instruction sets."""

from __future__ import annotations

import json

import pytest

import cnnlab
from cnnlab.training import hardware


def _environment(tiny, **settings) -> dict:
    run = cnnlab.train(**{**tiny, "epochs": 1, **settings})
    return json.loads((run.dir / "environment.json").read_text())


def test_amp_on_a_cpu_without_bfloat16_kernels_is_recorded_as_the_float32_fallback(tiny, monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_bfloat16_kernels", lambda: False)
    device = _environment(tiny, amp=True, name="fallback")["device"]
    assert device["amp"] is None and device["precision"] == "float32"
    assert "fallback" in device["precision_note"]


@pytest.mark.skipif(not hardware.cpu_has_bfloat16_kernels(), reason="this CPU has no bfloat16 kernels")
def test_amp_with_bfloat16_kernels_trains_in_bfloat16(tiny):
    assert _environment(tiny, amp=True, name="bf16")["device"]["precision"] == "bfloat16"


def test_amp_off_is_float32_and_the_cpu_instruction_sets_are_recorded(tiny):
    environment = _environment(tiny, amp=False, name="f32")
    assert (
        environment["device"]["precision"] == "float32"
        and environment["device"]["precision_note"] == "amp off"
    )
    sets = environment["machine"]["instruction_sets"]
    assert set(sets["flags"]) <= set(hardware.INSTRUCTION_SETS) and "bfloat16_kernels" in sets
