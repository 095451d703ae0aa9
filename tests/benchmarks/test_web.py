"""The web lab's benchmark: its measures work end to end on tiny settings (no times asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import web

needs_browser = pytest.mark.skipif(
    not web.browser_available(), reason="needs /usr/bin/chromium and chromedriver"
)


def test_the_last_step_ignores_a_line_being_written_and_epoch_lines(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    assert web._last_step(metrics) is None
    lines = [{"kind": "step", "step": 5}, {"kind": "step", "step": 10}, {"kind": "epoch", "step": 10}]
    metrics.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"kind": "step", "st')
    assert web._last_step(metrics) == 10


def test_a_watched_window_is_compared_with_the_unwatched_ones_around_it():
    assert web.watch_costs([10.0, 12.0, 8.0], [11.0, 9.0]) == pytest.approx([0.0, 0.1])
    with pytest.raises(ValueError):
        web.watch_costs([10.0, 0.0], [5.0])  # a window without steps says nothing


@needs_browser
def test_the_live_delay_is_measured_to_the_point_painted_in_chromium():
    measured = web.bench_browser_live_delay({"lines": 3})
    assert measured["received"] == measured["lines"] == 3
    # A point cannot be drawn before its line was written (up to the clocks' comparison error).
    assert measured["p50_ms"] > -measured["clock_error_ms"] and measured["in_dom"]["n"] == 3


@needs_browser
def test_the_runs_page_is_timed_until_every_row_is_shown():
    measured = web.bench_browser_runs_page({"runs": 30, "browser_loads": 1})
    assert measured["runs"] == 30 and measured["shown"]["n"] == 1 and measured["shown"]["p50_ms"] > 0
