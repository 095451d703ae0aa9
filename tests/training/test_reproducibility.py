"""Same seed, same bits; resume after Ctrl-C or kill -9 ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import cnnlab
from cnnlab.data import load_dataset, to_model_input
from cnnlab.models import create
from cnnlab.runs import load_checkpoint
from cnnlab.runs.rundir import RunDir
from cnnlab.training import TrainingInterrupted, resume


def test_same_seed_gives_identical_weights_and_metrics(tiny, same_weights, learning_records):
    first = cnnlab.train(**tiny, name="a")
    second = cnnlab.train(**tiny, name="b")
    assert same_weights(first.model, second.model)
    assert learning_records(RunDir(first.dir).read_metrics()) == learning_records(
        RunDir(second.dir).read_metrics()
    )
    assert first.final == second.final
    other_seed = cnnlab.train(**{**tiny, "seed": 1}, name="c")
    assert not same_weights(first.model, other_seed.model)


def test_ctrl_c_saves_a_checkpoint_and_resume_matches_uninterrupted(
    tiny, same_weights, learning_records, ctrl_c_at_step
):
    reference = cnnlab.train(**tiny, name="reference")
    with pytest.raises(TrainingInterrupted) as stopped:
        cnnlab.train(**{**tiny, "progress": ctrl_c_at_step(5)}, name="interrupted")
    run_dir = Path(tiny["runs_dir"]) / "interrupted"
    assert f"cnnlab train --resume {run_dir}" in str(stopped.value)
    assert stopped.value.exit_code == 130
    assert json.loads((run_dir / "result.json").read_text())["status"] == "interrupted"
    # The checkpoint sits where Ctrl-C came: step 5 is batch 5 of the 8 in epoch 1.
    position = load_checkpoint(run_dir / "checkpoints" / "last.pt")["training"]["position"]
    assert position == {"epoch": 0, "batch": 5, "step": 5}

    resumed = resume(run_dir, progress=False)
    assert resumed.status == "finished"
    assert same_weights(resumed.model, reference.model)
    assert resumed.history and learning_records(resumed.history) == learning_records(reference.history)
    assert learning_records(RunDir(run_dir).read_metrics()) == learning_records(
        RunDir(reference.dir).read_metrics()
    )


def test_resume_after_kill_9_mid_epoch_matches_uninterrupted(tiny, same_weights, learning_records):
    # 128 steps an epoch, the kill comes after step 10: the child cannot finish the epoch first.
    settings = {**tiny, "subset": 2048, "batch_size": 16, "epochs": 2, "log_every": 1, "checkpoint_every": 4}
    run_dir = Path(settings["runs_dir"]) / "killed"
    flags = [_flag(name, value) for name, value in settings.items() if name != "progress"]
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, cnnlab.cli; sys.exit(cnnlab.cli.main(sys.argv[1:]))",
         "train", "--quiet", "--name=killed", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for_step(run_dir / "metrics.jsonl", step=10, child=child)
    finally:
        child.kill()  # SIGKILL: no handler runs, no file is closed
        child.wait()
    position = load_checkpoint(run_dir / "checkpoints" / "last.pt")["training"]["position"]
    assert position["epoch"] == 0 and 0 < position["batch"] < 128, "the kill must land mid-epoch"

    resumed = resume(run_dir, progress=False)
    reference = cnnlab.train(**settings, name="reference")
    assert same_weights(resumed.model, reference.model)
    assert learning_records(RunDir(run_dir).read_metrics()) == learning_records(
        RunDir(reference.dir).read_metrics()
    )
    assert resumed.final == reference.final


def _flag(name: str, value) -> str:
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag}={value}"


def _wait_for_step(metrics: Path, step: int, child: subprocess.Popen, timeout: float = 120) -> None:
    """Poll metrics.jsonl until it has a step record at or past ``step``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            pytest.fail(f"the training process ended early: {child.stderr.read().decode()[-2000:]}")
        if metrics.is_file():
            steps = [json.loads(line).get("step", 0) for line in metrics.read_text().splitlines() if line]
            if steps and max(steps) >= step:
                return
        time.sleep(0.01)
    pytest.fail("the training process never reached the step")


def test_mixed_precision_with_loss_scaling_resumes_exactly(tiny, same_weights, monkeypatch, interrupted_run):
    """The CUDA code path (autocast, float16 GradScaler, channels_last, clipping), run on the CPU."""
    import torch

    import cnnlab.training.hardware as hardware

    monkeypatch.setattr(hardware, "_amp_dtype", lambda device: torch.float16)
    settings = {**tiny, "amp": True, "channels_last": True, "clip_grad_norm": 1.0}
    reference = cnnlab.train(**settings, name="amp-reference")
    cut = interrupted_run(settings, 6, "amp-cut")
    assert load_checkpoint(cut / "checkpoints" / "last.pt")["training"]["scaler"]["scale"] > 1
    resumed = resume(cut, progress=False)
    assert same_weights(resumed.model, reference.model) and resumed.final == reference.final


def test_data_dependent_init_sees_the_training_images_and_resume_keeps_it(
    tiny, same_weights, interrupted_run
):
    # airbench's whitening filters are fitted to the training images before the first step (and
    # never trained); a resumed run takes them from its checkpoint and ends as an uninterrupted one.
    settings = {**tiny, "model": "airbench", "model_args": {"widths": [8, 8, 8]}, "optimizer": "sgd"}
    settings.update(lr=0.05, momentum=0.85, nesterov=True, ema=0.9)
    reference = cnnlab.train(**settings, name="reference")
    train = load_dataset("mnist", "train", subset=tiny["subset"])
    fitted = create("airbench", in_channels=1, input_size=28, widths="8,8,8")
    fitted.init_from_data(to_model_input(train.images, train.mean, train.std, "standardized"))
    untouched = create("airbench", in_channels=1, input_size=28, widths="8,8,8")
    assert torch.equal(reference.model.whiten.weight, fitted.whiten.weight)
    assert not torch.allclose(fitted.whiten.weight, untouched.whiten.weight)

    resumed = resume(interrupted_run(settings, 5, "interrupted"), progress=False)
    assert same_weights(resumed.model, reference.model)
