"""Time-to-accuracy bookkeeping and the two training paths it compares."""

from __future__ import annotations

import pytest
from benchmarks.accuracy import AccuracyRun

from benchmarks import accuracy
from cnnlab.data import load_dataset


def test_seconds_to_target_is_the_first_epoch_reaching_it():
    run = AccuracyRun("x", accuracies=[0.5, 0.63, 0.66, 0.64], train_seconds=[10.0, 20.0, 30.0, 40.0])
    assert run.seconds_to(0.64) == 30.0
    assert run.seconds_to(0.5) == 10.0
    assert run.seconds_to(0.7) is None
    assert run.final_accuracy == 0.64 and run.total_train_seconds == 40.0


@pytest.fixture
def mnist_small():
    train = load_dataset("mnist", "train", progress=False).subset(512)
    test = load_dataset("mnist", "test", progress=False).subset(256)
    return train, test


def test_plain_course_run_stops_at_the_target(mnist_small, monkeypatch):
    train, test = mnist_small
    run = accuracy.plain_course_run(train, test, target=0.0, max_epochs=3)
    assert len(run.accuracies) == 1  # any accuracy reaches 0: one epoch, then stop
    assert 0.0 <= run.accuracies[0] <= 1.0
    full = accuracy.plain_course_run(train, test, target=None, max_epochs=2)
    assert len(full.accuracies) == 2 and full.train_seconds[1] > full.train_seconds[0]


def test_recipe_run_records_each_epochs_test_accuracy():
    run = accuracy.cnnlab_recipe_run(
        "default", epochs=2, subset=256, test_subset=128, batch_size=64, test_every=1
    )
    assert len(run.accuracies) == 2 == len(run.train_seconds)
    assert all(0.0 <= a <= 1.0 for a in run.accuracies)
    assert run.label == (
        "cnnlab: --recipe default --epochs 2 --subset 256 --test-subset 128 --batch-size 64 --test-every 1"
    )


def test_recipe_run_tested_only_at_the_end_records_one_accuracy():
    every = accuracy.cnnlab_recipe_run("default", epochs=2, subset=256, test_subset=128, test_every=1)
    last = accuracy.cnnlab_recipe_run("default", epochs=2, subset=256, test_subset=128, test_every=0)
    assert len(last.accuracies) == 1 == len(last.train_seconds)
    assert last.final_accuracy == every.final_accuracy  # evaluating more often changes nothing


def test_cli_flags_are_what_cnnlab_train_accepts():
    flags = accuracy.cli_flags(
        {"lr": 0.3, "flip": True, "amp": False, "model_args": {"widths": [16, 32], "residual": [True, False]}}
    )
    assert flags == " --lr 0.3 --flip --no-amp --model-arg widths=16,32 --model-arg residual=true,false"
    assert accuracy.cli_flags({}) == ""


def test_quick_sweep_variants_are_valid_settings_of_the_recipe():
    from cnnlab.training.config import resolve_config

    labels = [label for label, _ in accuracy.QUICK_SWEEP]
    assert labels[0] == "the recipe" and len(set(labels)) == len(labels)
    for _, settings in accuracy.QUICK_SWEEP:
        resolve_config(recipe="cifar10-quick", overrides=dict(settings))  # raises on a bad setting


def test_sweep_trains_each_variant_once_per_seed():
    variants = [("as is", {}), ("slower", {"lr": 1e-4})]
    rows = list(accuracy.sweep("default", variants, seeds=[0, 1], epochs=1, subset=256, test_subset=128))
    assert [row.label for row in rows] == ["as is", "slower"]
    assert [row.flags for row in rows] == ["", " --lr 0.0001"]
    for row in rows:
        assert row.seeds == [0, 1] and len(row.accuracies) == 2 == len(row.train_seconds)
        assert row.mean_accuracy == sum(row.accuracies) / 2
        assert "mean" in row.line() and row.to_dict()["median_seconds"] == row.median_seconds
    again = list(accuracy.sweep("default", variants[:1], seeds=[1], epochs=1, subset=256, test_subset=128))
    assert again[0].accuracies == rows[0].accuracies[1:]  # a seed repeats exactly
