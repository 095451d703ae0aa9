"""Settings: every impossible value and unknown name is refused before any work, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnnlab
from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.training import TrainConfig, resolve_config
from cnnlab.training.recipes import RECIPES, Recipe, add_recipe


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lr": 0}, "lr must be a positive number (got 0.0)"),
        ({"lr": -1e-3}, "lr must be a positive number"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"batch_size": 0}, "batch_size must be >= 1 (got 0)"),
        ({"epochs": 0}, "epochs must be >= 1 (got 0)"),
        ({"subset": 0}, "subset must be >= 1"),
        ({"val_split": 1.0}, "val_split must be in [0, 1) (got 1.0)"),
        ({"momentum": 1.5}, "momentum must be in [0, 1)"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
        ({"clip_grad_norm": 0.0}, "clip_grad_norm must be > 0"),
        ({"early_stop": 3}, "early_stop needs a validation split"),
        ({"nesterov": True, "optimizer": "adam"}, "nesterov needs --optimizer sgd"),
        ({"label_smoothing": 0.1, "loss": "focal"}, "label_smoothing applies to the cross-entropy loss"),
        ({"alternate_flips": True}, "alternate_flips changes how flips are chosen: add --flip"),
        ({"schedule": "warmup"}, "the warmup schedule needs --warmup-epochs > 0"),
        ({"warmup_epochs": 5, "epochs": 3}, "warmup_epochs (5.0) must be shorter than the run (3 epochs)"),
        ({"device": "tpu"}, "device must be one of auto, cpu, cuda, mps"),
        ({"crop_pad_mode": "wrap"}, "crop_pad_mode must be one of zeros, reflect (got 'wrap')"),
        ({"epochs": "three"}, "epochs = 'three' in settings is not a valid whole number"),
        ({"betas": "0.9"}, "is not a valid pair of numbers"),
    ],
)
def test_impossible_values_are_refused(settings, message):
    with pytest.raises(ConfigError) as error:
        resolve_config(overrides=settings)
    assert message in str(error.value)


def test_all_problems_are_listed_at_once():
    with pytest.raises(ConfigError) as error:
        resolve_config(overrides={"lr": 0, "batch_size": 0, "epochs": 0})
    text = str(error.value)
    assert "lr must" in text and "batch_size must" in text and "epochs must" in text


@pytest.mark.parametrize(
    ("setting", "value", "kind", "known"),
    [
        ("optimizer", "adamm", "optimizer", "adagrad, adam, adamw, muon, rmsprop, sgd"),
        ("loss", "hinge", "loss", "cross-entropy, focal, mse, nll"),
        ("schedule", "cosin", "schedule", "constant, cosine, linear, onecycle, step, triangle, warmup"),
    ],
)
def test_unknown_names_list_the_known_ones(setting, value, kind, known):
    with pytest.raises(UnknownNameError) as error:
        resolve_config(overrides={setting: value})
    assert f"Unknown {kind} '{value}'" in str(error.value)
    assert known in str(error.value)


def test_unknown_setting_suggests_the_closest():
    with pytest.raises(UnknownNameError) as error:
        cnnlab.train("lenet5", "mnist", learning_rate=0.1, progress=False)
    assert "Unknown setting 'learning_rate'" in str(error.value)


def test_unknown_model_and_dataset_fail_before_a_run_directory_exists(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(UnknownNameError, match="Did you mean 'lenet5'"):
        cnnlab.train("lenet", "mnist", runs_dir=str(runs), progress=False)
    with pytest.raises(UnknownNameError, match="Unknown dataset 'mnits'"):
        cnnlab.train("lenet5", "mnits", runs_dir=str(runs), progress=False)
    assert not runs.exists()


def test_subset_larger_than_the_data_is_refused(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(ConfigError, match="subset 70000 is larger than the 60,000 training images of mnist"):
        cnnlab.train("course-cnn", "mnist", subset=70000, runs_dir=str(runs), progress=False)
    with pytest.raises(ConfigError, match="test_subset 20000 is larger than the 10,000 test images"):
        cnnlab.train("course-cnn", "mnist", test_subset=20000, runs_dir=str(runs), progress=False)
    assert not runs.exists()


def test_unavailable_device_is_refused():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from cnnlab.training import choose_hardware

    with pytest.raises(ConfigError, match="CUDA is not available"):
        choose_hardware(TrainConfig(device="cuda"))


def test_file_then_flags_override_recipe_and_defaults(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(
        RECIPES, "test-recipe", Recipe("test-recipe", "", {"epochs": 7, "lr": 0.5, "optimizer": "sgd"})
    )
    toml = tmp_path / "run.toml"
    toml.write_text('recipe = "test-recipe"\nlr = 0.05\nbatch-size = 64\nbetas = [0.8, 0.99]\n')
    config = resolve_config(config_file=toml, overrides={"batch_size": 32})
    assert (config.epochs, config.optimizer) == (7, "sgd")  # from the recipe
    assert config.lr == 0.05  # the file beats the recipe
    assert config.batch_size == 32  # the flag beats the file
    assert config.betas == (0.8, 0.99)
    assert config.model == "lenet5"  # untouched default


def test_yaml_numbers_written_as_1e_3_are_read_as_numbers(tmp_path: Path):
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("lr: 1e-3\nepochs: 2\nflip: yes\n")
    config = resolve_config(config_file=yaml_file)
    assert (config.lr, config.epochs, config.flip) == (1e-3, 2, True)


def test_bad_config_files_are_explained(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(config_file=tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("lr = = 3")
    with pytest.raises(ConfigError, match="Cannot parse"):
        resolve_config(config_file=broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a table of settings"):
        resolve_config(config_file=listing)
    with pytest.raises(ConfigError, match="must end in .toml, .yaml or .yml"):
        resolve_config(config_file=listing.rename(tmp_path / "list.json"))


def test_a_settings_file_with_several_problems_lists_them_all(tmp_path: Path):
    settings = tmp_path / "run.toml"
    settings.write_text('learnin_rate = 0.1\nepochz = 3\nlr = "fast"\nbatch_size = "big"\n')
    with pytest.raises(ConfigError) as error:
        resolve_config(config_file=settings)
    text = str(error.value)
    assert text.startswith(f"4 problems in {settings}:")
    assert "Unknown setting 'learnin_rate'" in text and "Did you mean 'epochs'?" in text
    assert f"lr = 'fast' in {settings} is not a valid number" in text
    assert f"batch_size = 'big' in {settings} is not a valid whole number" in text


def test_impossible_values_and_combinations_are_all_listed():
    with pytest.raises(ConfigError) as error:
        resolve_config(overrides={"lr": 0, "muon_lr": -1, "early_stop": 2, "alternate_flips": True})
    text = str(error.value)
    for problem in ("lr must", "muon_lr must", "early_stop needs", "alternate_flips changes"):
        assert problem in text, problem


@pytest.mark.parametrize(
    ("name", "text", "place"),
    [
        ("broken.toml", "lr = 0.1\nepochs = = 3\n", "line 2, column 10"),
        ("broken.yaml", "lr: 0.1\n  epochs: 3\n", "line 2, column 9"),
    ],
)
def test_a_file_that_does_not_parse_names_the_file_and_the_line(tmp_path: Path, name, text, place):
    broken = tmp_path / name
    broken.write_text(text)
    with pytest.raises(ConfigError) as error:
        resolve_config(config_file=broken)
    message = str(error.value)
    assert message.startswith(f"Cannot parse {broken}, {place}: ") and "\n" not in message


def test_unknown_recipe_lists_the_known_ones():
    main_job = resolve_config(recipe="default")  # what a bare `cnnlab train` runs: LeNet-5 kept
    assert (main_job.model, main_job.dataset, main_job.epochs, main_job.batch_size) == (
        "lenet5",
        "mnist",
        4,
        256,
    )
    with pytest.raises(ValueError, match="defined twice"):
        add_recipe(Recipe("default", "again"))
    with pytest.raises(UnknownNameError, match="Unknown recipe 'defualt'. Did you mean 'default'"):
        resolve_config(recipe="defualt")


def test_config_round_trips_through_json():
    config = resolve_config(overrides={"betas": (0.5, 0.6), "model_args": {"dropout": 0.2}})
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_model_args_given_over_a_recipe_merge_with_its_own():
    # --recipe cifar10-quick --model-arg widths=... used to drop the recipe's stem and residual flags.
    merged = resolve_config(recipe="cifar10-quick", overrides={"model_args": {"widths": [16, 32, 32]}})
    assert merged.model_args == {"widths": [16, 32, 32], "residual": [False, False, True], "stem": "patch"}


def test_another_model_over_a_recipe_starts_its_options_afresh():
    assert resolve_config(recipe="cifar10-quick", overrides={"model": "tutorial-cnn"}).model_args == {}
