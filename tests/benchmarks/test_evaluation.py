"""The evaluation benchmark: both sides see the same network and agree on its accuracy."""

from __future__ import annotations

from benchmarks.measure import synthetic_dataset

from benchmarks import evaluation


def test_both_sides_agree_on_the_accuracy_in_float32():
    test = synthetic_dataset((3, 32, 32), 96)
    result = evaluation.measure_evaluation(test, "tutorial-cnn", rounds=1)
    assert result.images == 96 and result.model == "tutorial-cnn"
    assert result.plain_accuracy == result.cnnlab_accuracy
    assert result.plain_seconds > 0 and result.cnnlab_seconds > 0
    # conv 3->6 5x5 at 28x28, conv 6->16 5x5 at 10x10, FC 400-120-84-10: 651,720 multiply-adds
    assert result.gflop_per_image * 1e9 == 2 * 651_720
    assert result.floor_seconds(peak_gflops=100.0) == 96 * 2 * 651_720 / 100e9


def test_settings_reach_the_cnnlab_side_and_name_the_row():
    test = synthetic_dataset((3, 32, 32), 32)
    result = evaluation.measure_evaluation(test, "tutorial-cnn", rounds=1, amp=True)
    assert result.model == "tutorial-cnn amp=True"
    assert 0.0 <= result.cnnlab_accuracy <= 1.0
