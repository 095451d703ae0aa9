"""The step breakdown: the plain loop, then cnnlab with each of its CPU choices switched."""

from __future__ import annotations

from benchmarks.measure import synthetic_dataset

from benchmarks import breakdown


def test_compare_times_every_phase_of_plain_and_each_cnnlab_variant():
    dataset = synthetic_dataset((3, 32, 32), 32)
    rows = breakdown.compare("tutorial-cnn", dataset, batch_size=8, steps=1)
    assert [row.label.split(" ")[0] for row in rows] == ["plain", "cnnlab", "cnnlab", "cnnlab"]
    assert "channels_last" in rows[1].label  # the trainer's default for a conv net
    assert "channels_last" not in rows[2].label
    assert "amp" in rows[3].label or "amp" not in rows[1].label  # bfloat16 only where the CPU has it
    for row in rows:
        assert set(row.milliseconds) == set(breakdown.PHASES)
        assert row.total_ms > 0 and row.images_per_s > 0


def test_operator_table_profiles_the_trainers_step():
    dataset = synthetic_dataset((3, 32, 32), 32)
    table = breakdown.operator_table(breakdown.create("tutorial-cnn", 10, 3, 32), dataset, 8, steps=1, rows=5)
    assert "Self CPU" in table and "aten::" in table
