"""The sweep's own options, checked with the space before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

from cnnlab.errors import ConfigError
from cnnlab.sweeps.api import DEFAULT_VAL_SPLIT, _pruner, make_plan
from cnnlab.sweeps.storage import default_storage


def plan(tmp_path: Path, model: str | None = "lenet5", **changes):
    options = {
        "trials": 4, "space": {"lr": "log:1e-4:1e-1"}, "params": (), "space_file": None, "workers": 2,
        "storage": None, "pruner": "median", "pruner_startup": 5, "metric": "val_accuracy", "final_seeds": 3,
        "runs_dir": tmp_path / "runs", "heartbeat_s": 10, "sampler_seed": None, "progress": False,
        "settings": {"epochs": 2},
    }  # fmt: skip
    options.update(changes)
    return make_plan("s", model, "mnist", **options)


def test_defaults(tmp_path: Path):
    made = plan(tmp_path)
    assert made.space.fixed["val_split"] == DEFAULT_VAL_SPLIT  # the objective needs a validation split
    assert made.direction == "maximize" and plan(tmp_path, metric="val_loss").direction == "minimize"
    assert made.storage == default_storage(tmp_path / "runs")
    assert made.threads == max(1, (os.cpu_count() or 1) // 2)
    assert plan(tmp_path, settings={"threads": 3}).threads == 3
    assert not (tmp_path / "runs").exists()


def test_pruners(tmp_path: Path):
    kinds = {name: type(_pruner(plan(tmp_path, pruner=name))) for name in ("median", "hyperband", "none")}
    assert kinds == {
        "median": optuna.pruners.MedianPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "none": optuna.pruners.NopPruner,
    }


def test_option_problems_all_at_once(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        plan(tmp_path, trials=0, workers=0, pruner="asha", final_seeds=-1, settings={"val_split": 0})
    message = str(caught.value)
    for expected in (
        "--trials must be a whole number >= 1",
        "--workers must be a whole number >= 1",
        "--final-seeds must be a whole number >= 0",
        "Unknown pruner 'asha'",
        "val_split must be > 0",
    ):
        assert expected in message
    with pytest.raises(ConfigError, match="val_split cannot be searched"):
        plan(tmp_path, space={"val_split": "float:0.1:0.3"})
    with pytest.raises(ConfigError, match="Unknown model 'lenet6'"):
        plan(tmp_path, model=None, space={"model": ["lenet5", "lenet6"]})
