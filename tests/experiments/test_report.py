"""Formatting of the report's numbers and its Markdown blocks."""

from __future__ import annotations

from cnnlab.experiments.report import Report, format_metric, format_summary
from cnnlab.formatting import format_duration
from cnnlab.runs.stats import summarize


def test_accuracies_are_percent_with_two_decimals_and_std_over_seeds():
    summary = summarize([0.8700, 0.8750])
    assert format_summary(summary, "test_accuracy") == "87.25 ± 0.35%"
    assert format_summary(summarize([0.9]), "test_accuracy") == "90.00%"
    assert format_metric(0.12345, "test_loss") == "0.1235"
    assert format_summary(summarize([1.0, 3.0]), "test_loss") == "2 ± 1.4"


def test_durations_read_like_a_person_writes_them():
    assert format_duration(42.4) == "42 s"
    assert format_duration(425) == "7 min 5 s"
    assert format_duration(3 * 3600 + 12 * 60 + 7) == "3 h 12 min"


def test_markdown_blocks_tables_and_images():
    report = Report()
    report.heading("Results")
    report.table(["cell", "value"], [["a|b", "1"], ["c", "2"]])
    report.image("plot.png", "A plot")
    text = report.markdown()
    assert "## Results" in text
    assert "| a\\|b | 1 |" in text
    assert "| --- | --- |" in text
    assert "![A plot](plot.png)" in text
