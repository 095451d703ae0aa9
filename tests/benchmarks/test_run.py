"""The benchmark runner's command line."""

from __future__ import annotations

import pytest

from benchmarks import run


def test_quick_is_the_default_and_runs_the_short_parts():
    args = run.parse_args([])
    assert args.mode == "quick"
    assert args.parts == ["peak", "breakdown", "throughput", "evaluation"]


def test_full_runs_every_part_and_only_selects():
    assert run.parse_args(["--full"]).parts == list(run.PARTS)
    assert run.parse_args(["--full", "--only", "recipes, peak"]).parts == ["recipes", "peak"]


def test_unknown_part_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        run.parse_args(["--only", "peak,speed"])
    assert stopped.value.code == 2
    assert "unknown part(s) speed" in capsys.readouterr().err


def test_every_part_has_a_runner():
    assert set(run.RUNNERS) == set(run.PARTS)


def test_peak_part_writes_its_result(monkeypatch, capsys):
    monkeypatch.setattr(run, "matmul_gflops", lambda: 123.4)
    results = {}
    run.part_peak("quick", results)
    assert results == {"matmul_gflops": 123.4}
    assert "123.4 GFLOP/s" in capsys.readouterr().out
