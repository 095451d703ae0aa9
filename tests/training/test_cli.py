"""`cnnlab train` through the CLI: flags, JSON and quiet output, errors with exit codes, resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

import cnnlab
from cnnlab.cli import main
from cnnlab.commands.train import parse_model_args
from cnnlab.training import Reporter, TrainingInterrupted

TINY_FLAGS = [
    "--model", "course-cnn", "--subset", "256", "--test-subset", "128", "--batch-size", "32",
    "--epochs", "1", "--threads", "1", "--no-curves", "--log-every", "4",
]  # fmt: skip


def test_train_json_prints_the_result(tmp_path, capsys):
    code = main(
        ["train", *TINY_FLAGS, "--runs-dir", str(tmp_path), "--name", "cli", "--json", "--lr", "0.002"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "finished" and result["dir"] == str(tmp_path / "cli")
    assert len(result["history"]) == 1 and 0 <= result["final"]["test_accuracy"] <= 1
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["lr"] == 0.002


def test_train_quiet_prints_only_the_run_directory(tmp_path, capsys):
    assert main(["train", *TINY_FLAGS, "--runs-dir", str(tmp_path), "--name", "q", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "q")
    assert captured.err == ""


def test_train_default_output_has_progress_and_a_summary(tmp_path, capsys):
    assert main(["train", *TINY_FLAGS, "--runs-dir", str(tmp_path), "--name", "shown"]) == 0
    captured = capsys.readouterr()
    err, out = " ".join(captured.err.split()), " ".join(captured.out.split())  # undo rich's wrapping
    assert "Epoch 1 train_loss" in err and f"Run directory: {tmp_path / 'shown'}" in err
    assert "test_accuracy" in out and f"cnnlab eval {tmp_path / 'shown'}" in out


def test_config_file_and_model_args(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("model: mlp\nsubset: 128\ntest_subset: 64\nepochs: 1\nthreads: 1\ncurves: false\n")
    code = main(["train", "--config", str(config), "--model-arg", "hidden=[16]", "--runs-dir", str(tmp_path),
                 "--name", "mlp", "--quiet"])  # fmt: skip
    assert code == 0
    saved = json.loads((tmp_path / "mlp" / "config.json").read_text())
    assert (saved["model"], saved["subset"], saved["model_args"]) == ("mlp", 128, {"hidden": [16]})


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        (["--lr", "0"], 2, "lr must be a positive number"),
        (["--batch-size", "0"], 2, "batch_size must be >= 1"),
        (["--epochs", "0"], 2, "epochs must be >= 1"),
        (["--optimizer", "adamm"], 2, "Did you mean 'adam'?"),
        (["--loss", "hinge"], 2, "Known losses: cross-entropy, focal, mse, nll"),
        (["--schedule", "exponential"], 2, "Known schedules:"),
        (["--model", "resnet19"], 2, "Did you mean 'resnet18'?"),
        (["--subset", "999999"], 2, "is larger than the 60,000 training images"),
        (["--seeds", "x"], 2, "give seeds as 0,1,2"),
        (["--model-arg", "dropout"], 2, "write KEY=VALUE"),
    ],
)
def test_bad_input_exits_with_a_message_and_no_traceback(tmp_path, capsys, flags, code, message):
    assert main(["train", "--runs-dir", str(tmp_path), *flags]) == code
    err = capsys.readouterr().err
    assert message in " ".join(err.split())  # rich may wrap long lines
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_resume_refuses_new_settings_and_finished_runs(tmp_path, capsys):
    assert main(["train", *TINY_FLAGS, "--runs-dir", str(tmp_path), "--name", "done", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "done", "--runs-dir", str(tmp_path), "--lr", "0.1"]) == 2
    assert "--lr cannot change them" in capsys.readouterr().err
    assert main(["train", "--resume", "done", "--runs-dir", str(tmp_path)]) == 2
    assert "already finished" in capsys.readouterr().err
    assert main(["train", "--resume", "nothing-here", "--runs-dir", str(tmp_path)]) == 2
    assert "No run 'nothing-here'" in capsys.readouterr().err


def test_existing_name_points_to_resume(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert main(["train", *TINY_FLAGS, "--runs-dir", str(tmp_path), "--name", "taken"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_model_args_are_typed():
    assert parse_model_args(["dropout=0.5", "hidden=[64, 32]", "bn=true", "act=relu"]) == {
        "dropout": 0.5,
        "hidden": [64, 32],
        "bn": True,
        "act": "relu",
    }


def test_a_bare_comma_separated_model_arg_is_a_list():
    # A shell turns residual=[false,false,true] into an unmatched glob or eats it; plain commas work.
    assert parse_model_args(["residual=false,false,true", "widths=16,32,64", 'label="a,b"']) == {
        "residual": [False, False, True],
        "widths": [16, 32, 64],
        "label": "a,b",
    }


def test_an_error_message_prints_its_brackets(tmp_path, capsys):
    # Messages are text, not rich markup: the example "[true,false,true]" used to vanish.
    code = main(["train", "--model", "speedrun", "--model-arg", "residual=yes", "--runs-dir", str(tmp_path)])
    assert code == 2
    assert "[true,false,true]" in capsys.readouterr().err


def test_seeds_cli_prints_statistics(tmp_path, capsys):
    code = main(
        ["train", *TINY_FLAGS, "--runs-dir", str(tmp_path), "--name", "grp", "--seeds", "0,1", "--json"]
    )
    assert code == 0
    study = json.loads(capsys.readouterr().out)
    assert study["group"] == "grp" and study["seeds"] == [0, 1]
    assert study["summary"]["test_accuracy"]["n"] == 2
    assert sorted(p.name for p in Path(tmp_path).iterdir() if p.is_dir()) == ["grp-seed0", "grp-seed1"]


class _CtrlCAtStep3(Reporter):
    def __init__(self):
        self.steps = 0

    def step(self, images, stats):
        self.steps += 1
        if self.steps == 3:
            os.kill(os.getpid(), signal.SIGINT)


def test_resume_an_interrupted_run_from_the_command_line(tmp_path, capsys):
    settings = {"model": "course-cnn", "subset": 256, "test_subset": 64, "batch_size": 32, "epochs": 1}
    with pytest.raises(TrainingInterrupted):
        cnnlab.train(
            **settings, threads=1, curves=False, runs_dir=str(tmp_path), name="cut", progress=_CtrlCAtStep3()
        )
    assert main(["train", "--resume", "cut", "--runs-dir", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "finished" and result["step"] == 8 and len(result["history"]) == 1


@pytest.mark.parametrize(
    ("flags", "recipe"),
    [
        ([], "default"),  # the main job: LeNet-5 on MNIST with the settings measured to reach 99%
        (["--epochs", "2", "--seed", "1"], "default"),  # flags still override the recipe's settings
        (["--model", "course-cnn"], None),  # other models start from TrainConfig's plain defaults
        (["--dataset", "fashion-mnist"], None),
        (["--recipe", "mnist-fast"], "mnist-fast"),
    ],
)
def test_a_bare_train_runs_the_default_recipe(flags, recipe, monkeypatch, tmp_path, capsys):
    import cnnlab.training
    from cnnlab.errors import UsageError

    asked = []

    def fake_train(**settings):
        asked.append(settings.get("recipe"))
        raise UsageError("stop here")

    monkeypatch.setattr(cnnlab.training, "train", fake_train)
    assert main(["train", "--runs-dir", str(tmp_path), *flags]) == 2
    assert asked == [recipe]
