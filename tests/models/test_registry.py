"""The registry: listing, lookup, suggestions, argument checks and the input_scale contract."""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.models import create, families, get_info, list_models, normalize_input_size, register, small_input

CLASSIFIER_FAMILIES = {"mlp", "small-cnn", "lenet", "alexnet", "zfnet", "vgg", "inception", "resnet"}


def test_every_classic_family_and_variant_is_registered():
    names = {info.name for info in list_models(task="classify")}
    expected = {"mlp", "fc2layer", "course-cnn", "tutorial-cnn", "lenet5", "alexnet", "zfnet", "googlenet"}
    expected |= {"inception-v3", *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "-bn"))}
    expected |= {f"resnet{d}" for d in (18, 34, 50, 101, 152)}
    assert expected <= names  # the classic zoo (other parts of cnnlab may register more)
    assert set(families()) >= CLASSIFIER_FAMILIES


def test_list_models_filters_by_family_and_task():
    assert [info.name for info in list_models(family="resnet")] == [
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
    ]
    assert all(info.task == "classify" for info in list_models(task="classify"))
    assert list_models(family="vgg", task="autoencoder") == []


def test_get_info_describes_the_paper_and_the_original_input():
    info = get_info("resnet50")
    assert (info.family, info.year, info.paper_input, info.paper_classes) == (
        "resnet",
        2016,
        (3, 224, 224),
        1000,
    )
    assert "residual" in info.paper.lower()
    assert info.description.startswith("ResNet-50")
    assert get_info("inception-v3").paper_input == (3, 299, 299)
    assert get_info("lenet5").paper_input == (1, 32, 32)
    assert get_info("fc2layer").year is None  # a course model: no paper


def test_unknown_name_suggests_the_closest_and_lists_the_known():
    with pytest.raises(UnknownNameError) as caught:
        create("resnt18")
    message = str(caught.value)
    assert "Did you mean 'resnet18'?" in message
    assert "vgg16-bn" in message and "lenet5" in message
    with pytest.raises(UnknownNameError, match="Did you mean 'vgg16'"):
        get_info("vgg-16")


def test_registering_a_name_twice_is_a_programming_error():
    with pytest.raises(ValueError, match="registered twice"):
        register("lenet5", family="lenet", paper="x", year=1998)(lambda n, c, s: torch.nn.Identity())


@pytest.mark.parametrize("bad", [0, -3, (32,), (32, 0), (3, 32, 32), "32", 2.5])
def test_bad_input_sizes_are_config_errors(bad):
    with pytest.raises(ConfigError, match="input_size"):
        normalize_input_size(bad)


def test_input_size_int_or_pair_reaches_the_builder_as_a_pair():
    assert normalize_input_size(28) == (28, 28)
    assert normalize_input_size([40, 48]) == (40, 48)
    model = create("resnet18", num_classes=7, in_channels=2, input_size=(40, 48))
    assert model(torch.zeros(2, 2, 40, 48)).shape == (2, 7)


def test_small_form_threshold():
    assert small_input((32, 32)) and small_input((63, 200))
    assert not small_input((64, 64))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"in_channels": 0}, "in_channels"),
        ({"dropout_rate": 0.1}, "no option 'dropout_rate'. Its options: dropout"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        create("vgg11", **kwargs)


def test_every_classifier_reads_standardized_inputs():
    with torch.device("meta"):
        for info in list_models(task="classify"):
            shape = (1, 28, 28) if info.family not in ("alexnet", "zfnet") else (3, 64, 64)
            model = create(info.name, 10, shape[0], shape[1:])
            assert model.input_scale == "standardized", info.name


def test_mlp_hidden_widths_are_configurable():
    model = create("mlp", in_channels=1, input_size=28, hidden="64,32")
    widths = [layer.out_features for layer in model if isinstance(layer, torch.nn.Linear)]
    assert widths == [64, 32, 10]
    assert [m.out_features for m in create("mlp", hidden=[5]) if isinstance(m, torch.nn.Linear)] == [5, 10]
    with pytest.raises(ConfigError, match="hidden"):
        create("mlp", hidden="64,x")
