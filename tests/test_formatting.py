"""The one formatting module: counts, sizes, shapes, durations and the Markdown table writer."""

from cnnlab.formatting import (
    format_bytes,
    format_count,
    format_duration,
    format_shape,
    format_short_count,
    markdown_table,
)


def test_counts_exact_and_short():
    assert format_count(1_234_567) == "1,234,567"
    assert format_short_count(1_234_567) == "1.23 M"
    assert format_short_count(6_300_000_000) == "6.3 G" and format_short_count(999) == "999"


def test_bytes_shapes_and_durations():
    assert format_bytes(3 * 2**19) == "1.5 MiB" and format_bytes(12) == "12 B"
    assert format_shape((3, 32, 32)) == "3x32x32" and format_shape(None) == ""
    assert [format_duration(s) for s in (42.4, 425, 3 * 3600 + 12 * 60 + 7)] == [
        "42 s",
        "7 min 5 s",
        "3 h 12 min",
    ]


def test_markdown_tables_escape_cells_and_keep_one_row_a_line():
    table = markdown_table(["name", "note"], [["a|b", "two\nlines"], ["c", 3]])
    assert table.splitlines() == ["| name | note |", "| --- | --- |", "| a\\|b | two lines |", "| c | 3 |"]
    assert table.endswith("\n")
    assert markdown_table(["x", "y"], [], compact=True).splitlines()[1] == "|---|---|"
