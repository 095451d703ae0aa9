"""Which models the throughput benchmark compares with the plain loop."""

from __future__ import annotations

from benchmarks import throughput
from cnnlab.models import list_models


def test_full_mode_covers_every_classifier_and_no_generative_model():
    full = throughput.zoo_models("full")
    assert set(full) == {info.name for info in list_models(task="classify")}
    assert {"vgg16", "resnet50", "speedrun", "lenet5"} <= set(full)
    assert not {"ae", "vae", "rbm"} & set(full)


def test_quick_mode_is_a_few_of_the_same():
    assert set(throughput.zoo_models("quick")) < set(throughput.zoo_models("full"))
