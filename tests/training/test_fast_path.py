"""The fast path keeps correctness: channels_last chosen by the network, large evaluation batches,
the weight average (EMA), the lookahead, alternating flips and test-time augmentation (TTA), all
bit-reproducible and resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import cnnlab
from cnnlab.data import load_dataset
from cnnlab.errors import ConfigError
from cnnlab.models import create
from cnnlab.runs import load_checkpoint
from cnnlab.runs.rundir import RunDir
from cnnlab.training import evaluate, resume
from cnnlab.training.evaluation import eval_batch_size, eval_loader
from cnnlab.training.tta import with_tta


def _channels_last_of(run) -> bool:
    return json.loads((Path(run.dir) / "environment.json").read_text())["device"]["channels_last"]


def test_channels_last_is_on_for_convolutional_networks_only(tiny):
    assert _channels_last_of(cnnlab.train(**tiny, name="conv")) is True
    assert _channels_last_of(cnnlab.train(**{**tiny, "model": "fc2layer"}, name="mlp")) is False
    forced = cnnlab.train(**{**tiny, "channels_last": False}, name="forced")
    assert _channels_last_of(forced) is False


def test_evaluation_batches_grow_with_small_images():
    assert eval_batch_size((3, 32, 32)) == 341
    assert eval_batch_size((1, 28, 28)) == 1337
    assert eval_batch_size((3, 32, 32), train_batch_size=512) == 512
    assert eval_batch_size((3, 224, 224), train_batch_size=32) == 32
    test = load_dataset("mnist", "test", progress=False).subset(3000)
    loader = eval_loader(test)
    assert loader.batch_size == 1337 and len(loader) == 3 and not loader.shuffle


@pytest.fixture
def averaged(tiny):
    return {**tiny, "ema": 0.9, "tta": "flip-shift"}


def test_weight_average_and_tta_repeat_to_the_bit(averaged, same_weights, learning_records):
    first = cnnlab.train(**averaged, name="a")
    second = cnnlab.train(**averaged, name="b")
    assert same_weights(first.model, second.model)
    assert learning_records(first.history) == learning_records(second.history)
    last_iterate = cnnlab.train(**averaged | {"ema": 0.0, "tta": "none"}, name="plain")
    assert not same_weights(first.model, last_iterate.model)  # the run ends with the average


def test_resume_with_a_weight_average_matches_uninterrupted(
    averaged, same_weights, learning_records, interrupted_run
):
    reference = cnnlab.train(**averaged, name="reference")
    cut = interrupted_run(averaged, 5)
    training = load_checkpoint(cut / "checkpoints" / "last.pt")["training"]
    assert training["ema"]["updates"] == 5 and "live_model_state" in training
    resumed = resume(cut, progress=False)
    assert same_weights(resumed.model, reference.model)
    assert learning_records(RunDir(cut).read_metrics()) == learning_records(
        RunDir(reference.dir).read_metrics()
    )


def test_reported_accuracy_is_that_of_the_averaged_model_with_tta(averaged):
    run = cnnlab.train(**averaged, name="checked")
    test = load_dataset("mnist", "test", progress=False).subset(averaged["test_subset"])
    again = evaluate(with_tta(run.model, "flip-shift"), eval_loader(test))
    assert again["accuracy"] == run.final["test_accuracy"]
    best = load_checkpoint(Path(run.dir) / "checkpoints" / "best.pt")  # the last epoch was the best
    assert all(torch.equal(best["model_state"][k], v) for k, v in run.model.state_dict().items())


@pytest.fixture
def looking_ahead(tiny):
    return {**tiny, "lookahead": 0.95, "flip": True, "alternate_flips": True}


def test_lookahead_with_alternating_flips_resumes_exactly(
    looking_ahead, same_weights, learning_records, interrupted_run
):
    reference = cnnlab.train(**looking_ahead, name="reference")
    assert same_weights(reference.model, cnnlab.train(**looking_ahead, name="again").model)
    cut = interrupted_run(looking_ahead, 7)  # between the pull-backs after steps 5 and 10
    training = load_checkpoint(cut / "checkpoints" / "last.pt")["training"]
    assert training["lookahead"]["updates"] == 1 and "live_model_state" in training
    resumed = resume(cut, progress=False)
    assert same_weights(resumed.model, reference.model)
    assert learning_records(RunDir(cut).read_metrics()) == learning_records(
        RunDir(reference.dir).read_metrics()
    )
    random_flips = cnnlab.train(**looking_ahead | {"alternate_flips": False}, name="random-flips")
    assert not same_weights(random_flips.model, reference.model)


def test_a_lookahead_run_ends_with_and_reports_the_average(looking_ahead):
    run = cnnlab.train(**looking_ahead, name="checked")
    test = load_dataset("mnist", "test", progress=False).subset(looking_ahead["test_subset"])
    assert evaluate(run.model, eval_loader(test))["accuracy"] == run.final["test_accuracy"]
    payload = load_checkpoint(Path(run.dir) / "checkpoints" / "last.pt")
    average = payload["training"]["lookahead"]["average"]
    assert all(torch.equal(run.model.state_dict()[name], value) for name, value in average.items())
    with_ema = cnnlab.train(**looking_ahead | {"ema": 0.9}, name="with-ema")  # the EMA is what is reported
    assert "ema" in load_checkpoint(Path(with_ema.dir) / "checkpoints" / "last.pt")["training"]


def test_muon_runs_resume_exactly_and_its_filters_follow_the_schedule_at_their_own_lr(
    tiny, same_weights, interrupted_run
):
    settings = {**tiny, "optimizer": "muon", "lr": 0.05, "muon_lr": 0.02, "schedule": "linear"}
    reference = cnnlab.train(**settings, name="reference")
    cut = interrupted_run(settings, 7)
    groups = load_checkpoint(cut / "checkpoints" / "last.pt")["training"]["optimizer"]["param_groups"]
    filters, others = groups
    assert filters["muon"] and not others["muon"]
    # After 7 of 16 steps (each ran at schedule(step) * lr_scale): 1 - 6/16 of each group's peak.
    assert filters["lr"] == pytest.approx(0.02 * (1 - 6 / 16))
    assert others["lr"] == pytest.approx(0.05 * (1 - 6 / 16))
    resumed = resume(cut, progress=False)
    assert same_weights(resumed.model, reference.model) and resumed.final == reference.final


def test_tta_of_a_non_classifier_is_refused_before_anything_is_written(tiny):
    runs = Path(tiny["runs_dir"])
    with pytest.raises(ConfigError, match="classifiers"):
        cnnlab.train(**{**tiny, "model": "ae", "tta": "flip"}, name="ae-tta")
    assert not (runs / "ae-tta").exists()


@pytest.mark.parametrize(
    ("setting", "value"), [("ema", 1.0), ("ema", -0.1), ("lookahead", 1.0), ("tta", "rotate")]
)
def test_bad_evaluation_settings_are_config_errors(tiny, setting, value):
    with pytest.raises(ConfigError, match=setting):
        cnnlab.train(**{**tiny, setting: value})


@pytest.mark.parametrize("recipe", ["mnist-fast", "cifar10-quick", "cifar10-speedrun"])
def test_fast_recipes_train_the_speedrun_net_in_mixed_precision(recipe, tiny):
    from cnnlab.training import get_recipe

    settings = get_recipe(recipe).settings
    assert settings["model"] == "speedrun" and settings["amp"] is True
    assert settings["optimizer"] == "sgd" and settings["nesterov"] is True
    # The whole recipe on a few MNIST images: every option it sets works together.
    run = cnnlab.train(
        recipe=recipe, dataset="mnist", subset=256, test_subset=128, epochs=1, runs_dir=tiny["runs_dir"],
        progress=False, curves=False, name=recipe,
    )  # fmt: skip
    assert run.status == "finished" and 0.0 <= run.final["test_accuracy"] <= 1.0
    environment = json.loads((Path(run.dir) / "environment.json").read_text())["device"]
    assert environment["channels_last"] is True


# Both recipes on 512 CIFAR-10 images, 2 epochs of batch 128 at their own learning rates. (On
# MNIST the airbench net's shifts blow up: its batch norm's eps of 1e-12 magnifies channels that
# see only the constant background.)
@pytest.mark.parametrize(
    ("recipe", "optimizer", "schedule", "batch_size"),
    [("cifar10-airbench", "sgd", "triangle", 1024), ("cifar10-fast", "muon", "linear", 2000)],
)
def test_airbench_recipes_learn_and_whiten_from_the_data(
    recipe, optimizer, schedule, batch_size, tiny, cifar10_dir
):
    from cnnlab.training import get_recipe

    settings = get_recipe(recipe).settings
    assert settings["model"] == "airbench"
    assert (settings["optimizer"], settings["schedule"], settings["batch_size"]) == (
        optimizer, schedule, batch_size,
    )  # fmt: skip
    run = cnnlab.train(
        recipe=recipe, data_dir=str(cifar10_dir), subset=512, test_subset=256, epochs=2, batch_size=128,
        runs_dir=tiny["runs_dir"], progress=False, curves=False, name=recipe,
    )  # fmt: skip
    assert run.status == "finished" and run.final["test_accuracy"] > 0.2  # chance is 0.1
    fresh = create("airbench")
    assert not torch.equal(run.model.whiten.weight, fresh.whiten.weight)  # fitted to the images


def test_quick_recipe_with_its_patch_stem_repeats_to_the_bit_and_resumes(
    tiny, same_weights, learning_records, interrupted_run
):
    settings = {
        "recipe": "cifar10-quick", "dataset": "mnist", "subset": 256, "test_subset": 128, "epochs": 2,
        "batch_size": 32, "checkpoint_every": 3, "runs_dir": tiny["runs_dir"], "progress": False,
        "curves": False, "threads": 1,
    }  # fmt: skip
    first = cnnlab.train(**settings, name="quick-a")
    assert isinstance(first.model.stem, torch.nn.Identity)  # the recipe's patch stem
    assert first.model.groups[0][0].stride == (2, 2)
    second = cnnlab.train(**settings, name="quick-b")
    assert same_weights(first.model, second.model)
    resumed = resume(interrupted_run(settings, 5, "quick-cut"), progress=False)
    assert same_weights(resumed.model, first.model)
    assert learning_records(resumed.history) == learning_records(first.history)


def test_deterministic_mode_is_set_without_importing_the_compiler():
    """torch.use_deterministic_algorithms imports torch._inductor (1.5-2 s of every run's start-up);
    the hardware context sets the same eager flag without it, and restores it after."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from cnnlab.training.config import TrainConfig\n"
        "from cnnlab.training.hardware import choose_hardware, hardware_context\n"
        "hardware = choose_hardware(TrainConfig(deterministic=True))\n"
        "with hardware_context(hardware):\n"
        "    inside = torch.are_deterministic_algorithms_enabled()\n"
        "print(inside, torch.are_deterministic_algorithms_enabled(), 'torch._inductor' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False"]
