"""A recipe's float32 settings (issue 20): taken exactly when a run computes in float32 on a CPU
(no bfloat16 kernels, or --no-amp), under the file and the flags, and recorded in config.json."""

from __future__ import annotations

import json

import pytest

import cnnlab
from cnnlab.models import create
from cnnlab.training import TrainConfig, hardware
from cnnlab.training.float32_recipes import resolve_run_config, trains_in_float32_on_cpu
from cnnlab.training.recipes import RECIPES, Recipe, get_recipe

FLOAT32 = {"batch_size": 96, "model_args": {"widths": [4, 8]}}


@pytest.fixture
def recipe(monkeypatch) -> str:
    settings = {"model": "speedrun", "amp": True, "batch_size": 128, "epochs": 2}
    monkeypatch.setitem(RECIPES, "test-fast", Recipe("test-fast", "", settings, float32_settings=FLOAT32))
    return "test-fast"


@pytest.fixture(params=[True, False], ids=["bfloat16-kernels", "no-bfloat16-kernels"])
def kernels(request, monkeypatch) -> bool:
    monkeypatch.setattr(hardware, "cpu_has_bfloat16_kernels", lambda: request.param)
    return request.param


def test_amp_on_a_cpu_without_bfloat16_kernels_takes_the_float32_settings(recipe, kernels):
    config = resolve_run_config(recipe=recipe, overrides={"device": "cpu"})
    if kernels:  # bfloat16 autocast: the recipe as tuned
        assert (config.batch_size, config.model_args, config.recipe_variant) == (128, {}, None)
    else:
        assert (config.batch_size, config.model_args, config.recipe_variant) == (
            96,
            {"widths": [4, 8]},
            "float32",
        )
    assert config.epochs == 2  # what the variant leaves alone stays


def test_no_amp_takes_them_on_every_cpu_and_flags_still_win(recipe, kernels):
    config = resolve_run_config(recipe=recipe, overrides={"device": "cpu", "amp": False, "batch_size": 64})
    assert (config.batch_size, config.model_args["widths"], config.recipe_variant) == (64, [4, 8], "float32")


def test_a_recipe_without_float32_settings_and_a_gpu_run_are_unchanged(recipe, kernels, monkeypatch):
    plain = resolve_run_config(recipe="default", overrides={"amp": False, "device": "cpu"})
    assert plain.recipe_variant is None and plain.model == "lenet5"
    monkeypatch.setattr(hardware, "_device", lambda name: hardware.torch.device("cuda"))
    assert not trains_in_float32_on_cpu(TrainConfig(device="cuda", amp=False))
    assert not trains_in_float32_on_cpu(TrainConfig(device="auto", amp=False))


def test_the_variant_agrees_with_the_precision_the_trainer_records(tiny, monkeypatch):
    monkeypatch.setitem(
        RECIPES, "test-tiny", Recipe("test-tiny", "", {"amp": True}, float32_settings={"batch_size": 16})
    )
    monkeypatch.setattr(hardware, "cpu_has_bfloat16_kernels", lambda: False)
    settings = {key: value for key, value in tiny.items() if key != "batch_size"}  # the variant's
    run = cnnlab.train(recipe="test-tiny", **{**settings, "epochs": 1, "name": "variant"})
    environment = json.loads((run.dir / "environment.json").read_text())
    config = json.loads((run.dir / "config.json").read_text())
    assert environment["device"]["precision"] == "float32"
    assert (config["recipe_variant"], config["batch_size"]) == ("float32", 16)


@pytest.mark.parametrize(("name", "shape"), [("mnist-fast", (1, 28)), ("cifar10-quick", (3, 32))])
def test_the_fast_recipes_say_what_their_float32_settings_reach(name, shape):
    recipe = get_recipe(name)
    assert recipe.float32_settings and "float32" in recipe.float32_measured
    config = resolve_run_config(recipe=name, overrides={"amp": False, "device": "cpu"})
    assert config.recipe_variant == "float32"
    create(config.model, in_channels=shape[0], input_size=shape[1], **config.model_args)  # it builds
