"""Several seeds: the report's numbers are those of the runs, and two groups can be compared."""

from __future__ import annotations

import math

import pytest

from cnnlab.errors import ConfigError
from cnnlab.runs.index import RunIndex
from cnnlab.runs.stats import t_quantile
from cnnlab.training import parse_seeds, train_seeds
from cnnlab.training.seed_study import compare_finals


def test_seed_lists_and_ranges():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3, 7-8") == [3, 7, 8]
    for bad in ("", "a,b", "1,1"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)


def test_multi_seed_summary_matches_its_runs(tiny):
    study = train_seeds(**tiny, seeds=[0, 1, 2], name="study")
    assert [run.name for run in study.runs] == ["study-seed0", "study-seed1", "study-seed2"]
    assert [run.config["seed"] for run in study.runs] == [0, 1, 2]
    accuracies = [run.final["test_accuracy"] for run in study.runs]
    assert len(set(accuracies)) > 1  # different seeds, different results
    summary = study.summary["test_accuracy"]
    mean = sum(accuracies) / 3
    std = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / 2)
    assert summary.n == 3
    assert summary.mean == pytest.approx(mean)
    assert summary.std == pytest.approx(std)
    assert summary.ci_high - summary.mean == pytest.approx(t_quantile(0.975, 2) * std / math.sqrt(3))
    assert {"train_loss", "test_loss", "train_accuracy"} <= set(study.summary)
    assert "epoch" not in study.summary and "lr" not in study.summary
    rows = RunIndex(tiny["runs_dir"]).list(group="study")
    assert sorted(row["run_id"] for row in rows) == ["study-seed0", "study-seed1", "study-seed2"]
    assert study.to_dict()["summary"]["test_accuracy"]["mean"] == pytest.approx(mean)


def test_comparing_a_group_with_itself_and_with_a_different_setting(tiny):
    base = train_seeds(**tiny, seeds=[0, 1, 2], name="base")
    worse = train_seeds(**{**tiny, "lr": 1e-5}, seeds=[0, 1, 2], name="tiny-lr")
    finals_base = [run.final for run in base.runs]
    same = compare_finals(finals_base, finals_base)["test_accuracy"]
    assert same.difference == 0 and same.significant is False
    different = compare_finals(finals_base, [run.final for run in worse.runs])["train_loss"]
    assert different.difference < 0  # lr 3e-3 trains; lr 1e-5 barely moves
    assert different.significant is True and different.p_value < 0.05


def test_two_studies_started_within_one_second_get_their_own_groups(tmp_path, monkeypatch):
    from cnnlab.training import seed_study

    monkeypatch.setattr(seed_study.time, "strftime", lambda _format: "20261202-020258")
    first = seed_study._default_group("course-cnn", "mnist", {"runs_dir": str(tmp_path)})
    (tmp_path / f"{first}-seed0").mkdir()
    second = seed_study._default_group("course-cnn", "mnist", {"runs_dir": str(tmp_path)})
    assert first == "course-cnn-mnist-20261202-020258" and second == f"{first}-2"
