"""The web lab's benchmark: its measures work end to end on tiny settings (no times asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import web

needs_browser = pytest.mark.skipif(
    not web.browser_available(), reason="needs /usr/bin/chromium and chromedriver"
)


def test_only_complete_epoch_records_count_and_a_cut_line_is_skipped(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("")
    assert web._epoch_records(metrics) == []
    lines = [{"kind": "step", "step": 30}, {"kind": "epoch", "step": 32, "time_s": 0.2}]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    metrics.write_text(text + '{"kind": "epoch", "st')  # a line being written
    assert web._epoch_records(metrics) == [lines[1]]
    assert web._epoch_records(metrics, offset=text.index("epoch")) == []  # cut by the offset


def test_the_training_speed_is_each_epochs_steps_over_its_step_loops_time():
    epochs = [{"step": 32, "time_s": 9.0}, {"step": 64, "time_s": 0.25}, {"step": 96, "time_s": 0.15}]
    assert web.steps_per_s(epochs) == pytest.approx(64 / 0.4)  # the first only marks the start
    assert web.steps_per_s(epochs[:1]) == 0.0


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
