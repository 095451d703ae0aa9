"""MixUp (``--mixup ALPHA``): the blend of images and loss, its seeding, resume to the bit, refusals."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import cnnlab
from cnnlab.data import load_dataset
from cnnlab.errors import ConfigError
from cnnlab.runs.rundir import RunDir
from cnnlab.training import evaluate, resume
from cnnlab.training.evaluation import eval_loader
from cnnlab.training.mixup import MixUp, draw
from cnnlab.training.parts import StepInput


@pytest.fixture
def mixed(tiny):
    return {**tiny, "mixup": 0.4}


def test_draw_is_a_pure_function_of_seed_and_step_with_the_larger_share_first():
    lam, perm = draw(0, 1, 2, 0.4, 16)
    again, same = draw(0, 1, 2, 0.4, 16)
    assert lam == again and torch.equal(perm, same)
    assert sorted(perm.tolist()) == list(range(16))
    lams = [draw(0, 0, batch, 0.4, 16)[0] for batch in range(200)]
    assert all(0.5 <= value <= 1.0 for value in lams) and len(set(lams)) == 200
    assert draw(1, 1, 2, 0.4, 16)[0] != lam
    # Beta(0.4, 0.4) is U-shaped: most blends keep most of one image; Beta(8, 8) blends near half.
    assert sum(value > 0.9 for value in lams) > 60
    assert max(draw(0, 0, batch, 8.0, 16)[0] for batch in range(200)) < 0.9


def test_the_step_trains_on_blended_images_and_a_blended_loss():
    trainer = SimpleNamespace(
        position=SimpleNamespace(epoch=0, batch=3), config=SimpleNamespace(seed=5, mixup=1.0)
    )
    x, labels, logits = torch.randn(8, 1, 4, 4), torch.arange(8) % 3, torch.randn(8, 3)
    step = StepInput(x, F.cross_entropy)
    MixUp().before_forward(trainer, step)
    lam, perm = draw(5, 0, 3, 1.0, 8)
    assert torch.allclose(step.inputs, lam * x + (1 - lam) * x[perm])
    expected = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(logits, labels[perm])
    assert torch.allclose(step.loss_fn(logits, labels), expected)


def test_mixup_changes_training_not_evaluation_and_repeats_to_the_bit(mixed, tiny, same_weights):
    plain = cnnlab.train(**tiny, name="plain")
    first = cnnlab.train(**mixed, name="mixed")
    assert first.config["mixup"] == 0.4
    assert first.history[0]["train_loss"] != plain.history[0]["train_loss"]
    assert same_weights(first.model, cnnlab.train(**mixed, name="again").model)
    # The test set is scored unmixed: evaluating the trained model again gives the same number.
    test = load_dataset("mnist", "test", progress=False).subset(tiny["test_subset"])
    assert evaluate(first.model, eval_loader(test))["accuracy"] == first.final["test_accuracy"]


def test_resume_after_ctrl_c_matches_uninterrupted(mixed, same_weights, learning_records, interrupted_run):
    reference = cnnlab.train(**mixed, name="reference")
    cut = interrupted_run(mixed, 5)  # between the checkpoints after steps 3 and 6
    resumed = resume(cut, progress=False)
    assert same_weights(resumed.model, reference.model)
    assert learning_records(RunDir(cut).read_metrics()) == learning_records(
        RunDir(reference.dir).read_metrics()
    )


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_alpha_must_be_positive(tiny, alpha):
    with pytest.raises(ConfigError, match=r"mixup must be > 0"):
        cnnlab.train(**{**tiny, "mixup": alpha})


def test_models_without_classes_are_refused_before_a_folder_is_made(tiny):
    with pytest.raises(ConfigError, match="--mixup needs a classifier: ae"):
        cnnlab.train(**{**tiny, "model": "ae", "mixup": 0.2}, name="ae")
    assert not (Path(tiny["runs_dir"]) / "ae").exists()


def test_cli_flag(tmp_path, capsys):
    from cnnlab.cli import main

    argv = ["train", "--model", "course-cnn", "--dataset", "mnist", "--subset", "128", "--test-subset", "64"]
    argv += [
        "--mixup",
        "0.2",
        "--quiet",
        "--runs-dir",
        str(tmp_path / "cli"),
        "--name",
        "m",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    assert RunDir(tmp_path / "cli" / "m").read_config()["mixup"] == 0.2
    assert main([*argv[:9], "--mixup", "0", "--quiet"]) != 0
    assert "mixup must be > 0 (got 0.0)" in capsys.readouterr().err
