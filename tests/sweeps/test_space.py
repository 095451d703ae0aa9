"""The search space: its syntax, and every problem reported at once before any training."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cnnlab.errors import ConfigError
from cnnlab.sweeps.space import build_space


def problems(**kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        build_space(**kwargs)
    return str(caught.value)


def test_kinds_and_fixed_values():
    space = build_space(
        params=[
            "lr=log:1e-4:1e-1",
            "momentum=float:0.8:0.95:0.05",
            "batch_size=int:16:64:16",
            "optimizer=choice:sgd,adam",
            "flip=choice:true,false",
            "epochs=3",
        ]
    )
    kinds = {p.name: (p.kind, p.integer) for p in space.params}
    assert kinds == {
        "lr": ("log", False),
        "momentum": ("float", False),
        "batch_size": ("int", True),
        "optimizer": ("choice", False),
        "flip": ("choice", False),
    }
    assert space.fixed == {"epochs": 3}
    assert next(p for p in space.params if p.name == "flip").choices == (True, False)


def test_suggest_gives_typed_settings():
    space = build_space(
        {"lr": "log:1e-4:1e-1", "batch_size": "log:16:256", "model_args.dropout": "float:0:0.5"},
        {"epochs": "2", "model": "alexnet"},
    )
    trial = optuna.trial.FixedTrial({"lr": 0.01, "batch_size": 32, "model_args.dropout": 0.25})
    settings = space.suggest(trial)
    assert settings == {
        "epochs": 2,
        "model": "alexnet",
        "lr": 0.01,
        "batch_size": 32,
        "model_args": {"dropout": 0.25},
    }
    assert next(p for p in space.params if p.name == "batch_size").integer


def test_unknown_setting_lists_the_valid_ones():
    message = problems(params=["lrr=log:1e-4:1e-1"])
    assert "Unknown setting 'lrr'. Did you mean 'lr'?" in message
    assert "weight_decay" in message and "batch_size" in message


def test_empty_inverted_and_log_ranges():
    message = problems(params=["lr=log:0:1", "momentum=float:0.9:0.9", "weight_decay=float:1e-3:1e-5"])
    assert "lr: a log range needs a positive lower bound" in message
    assert "momentum: the range float:0.9:0.9 is empty" in message
    assert "weight_decay: the range float:0.001:1e-05 is inverted; write float:1e-05:0.001" in message


def test_every_problem_at_once_including_the_trainers_own_checks():
    message = problems(
        params=[
            "lrr=log:1e-4:1e-1",
            "momentum=float:0.5:1.5",
            "optimizer=choice:sgd,adamx",
            "batch_size=float:16:64",
            "model_args.dropoutx=float:0:0.5",
            "epochs=0",
            "flip=float:0:1",
            "loss=choice:",
        ]
    )
    lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(lines) == 8, message
    assert "momentum = 1.5: momentum must be in [0, 1)" in message
    assert "optimizer = adamx: Unknown optimizer 'adamx'" in message
    assert "batch_size takes whole numbers" in message
    assert "Model 'lenet5' has no option dropoutx" in message
    assert "epochs must be >= 1" in message
    assert "flip is true or false, not a number" in message
    assert "loss: the list of choices is empty" in message


def test_settings_the_sweep_owns_are_refused():
    message = problems(params=["dataset=choice:mnist,cifar10", "name=x", "test_subset=int:10:20"])
    assert "dataset cannot be searched" in message
    assert "name is set by the sweep" in message
    assert "test_subset cannot be searched" in message


def test_space_file(tmp_path: Path):
    path = tmp_path / "space.toml"
    path.write_text(
        '[search]\nlr = "log:1e-4:1e-1"\noptimizer = ["sgd", "adam"]\n'
        'model_args.dropout = "float:0:0.5"\n[fixed]\nepochs = 2\nmodel = "alexnet"\n'
    )
    space = build_space(space_file=path, params=["epochs=3"])
    assert space.names == ["lr", "optimizer", "model_args.dropout"]
    assert space.fixed == {"epochs": 3, "model": "alexnet"}


def test_space_file_problems(tmp_path: Path):
    path = tmp_path / "space.toml"
    path.write_text("[search]\nlr = 0.1\n[grid]\nx = 1\n")
    message = problems(space_file=path)
    assert "lr = 0.1 in [search] is not a range" in message
    assert "unknown table(s) grid" in message
    assert "does not exist" in problems(space_file=tmp_path / "missing.toml")
