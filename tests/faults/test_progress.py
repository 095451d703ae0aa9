"""The progress a run shows (issue 21): figures from the first step and about every second, a word
while it evaluates, and at the end where the curves are, what the number means, what to try next."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
from rich.console import Console

import cnnlab
from cnnlab.cli import main
from cnnlab.training import ConsoleReporter, Reporter
from cnnlab.training.progress import RunStart, end_of_run_lines


class Recorder(Reporter):
    def __init__(self, live: bool):
        self.live_figures = live
        self.stats: list[dict | None] = []
        self.evaluations: list[tuple[str, int]] = []

    def step(self, images, stats):
        self.stats.append(stats)

    def evaluation_started(self, split, images):
        self.evaluations.append((split, images))


def test_figures_come_from_the_first_step_and_then_about_every_second(tiny, monkeypatch):
    import cnnlab.training.progress as progress

    looks = itertools.count()  # each look at the clock: 0.6 s later
    monkeypatch.setattr(progress.time, "perf_counter", lambda: 0.6 * next(looks))
    live = Recorder(live=True)
    cnnlab.train(**{**tiny, "log_every": 50, "progress": live}, name="live")
    assert live.stats[0] is not None and set(live.stats[0]) == {"loss", "accuracy"}
    shown = [i for i, stats in enumerate(live.stats) if stats is not None]
    assert len(shown) >= len(live.stats) // 2  # about every second step at 0.6 s a step

    quiet = Recorder(live=False)  # no live figures asked for: only the (here absent) step records
    cnnlab.train(**{**tiny, "log_every": 50, "progress": quiet}, name="quiet")
    assert quiet.stats == [None] * 16


def test_the_reporter_hears_when_the_model_is_evaluated(tiny):
    recorder = Recorder(live=False)
    cnnlab.train(**{**tiny, "val_split": 0.25, "progress": recorder}, name="eval")
    assert recorder.evaluations == [("val", 64), ("test", 128)] * 2  # test_every 1: each epoch


def test_the_bar_says_it_is_evaluating(tiny):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    reporter = ConsoleReporter(console)
    reporter.epoch_started(0, 1, 10, 0)
    reporter.evaluation_started("test", 10_000)
    console_text = reporter._progress.tasks[0].description
    reporter.run_ended({})
    assert "evaluating on 10,000 test images" in console_text


def _start(run_dir: Path, epochs: int = 1, dataset: str = "cifar10") -> RunStart:
    return RunStart(
        run_dir=str(run_dir), model="tutorial-cnn", dataset=dataset, train_images=50_000, val_images=0,
        test_images=10_000, epochs=epochs, hardware="cpu", classes=10,
    )  # fmt: skip


def test_the_end_of_a_weak_run_says_what_the_number_means_and_what_to_try(tmp_path):
    (tmp_path / "curves.png").write_bytes(b"png")
    lines = end_of_run_lines(_start(tmp_path), {"test_accuracy": 0.32, "test_loss": 1.9})
    assert lines[0] == f"Curves: {tmp_path / 'curves.png'}"
    assert lines[1].startswith("test_accuracy 32.00%: the share of the 10,000 test images")
    assert "guessing would get 10%" in lines[1]
    assert "more epochs (--epochs 10)" in lines[2] and "--recipe cifar10-" in lines[2]


def test_the_end_of_a_good_run_points_to_eval_and_seeds(tmp_path):
    lines = end_of_run_lines(_start(tmp_path, epochs=20), {"test_accuracy": 0.93})
    assert len(lines) == 2 and f"cnnlab eval {tmp_path}" in lines[1] and "--seeds 0-4" in lines[1]


def test_a_finished_cli_run_prints_its_curves_and_advice(tmp_path, capsys):
    flags = ["--model", "course-cnn", "--subset", "256", "--test-subset", "128", "--threads", "1"]
    assert main(["train", *flags, "--runs-dir", str(tmp_path), "--name", "cli"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"Curves: {tmp_path / 'cli' / 'curves.png'}" in err
    assert "the share of the 128 test images" in err and "Try next:" in err


def _image_folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"not a png")
    return root


def test_skip_bad_images_is_an_option_of_train(tmp_path, capsys):
    folder = _image_folder(tmp_path / "images")
    flags = ["--model", "course-cnn", "--dataset", str(folder), "--batch-size", "4", "--threads", "1"]
    flags += ["--runs-dir", str(tmp_path / "runs"), "--no-curves", "-q"]
    assert main(["train", *flags]) == 1
    assert "--skip-bad-images" in capsys.readouterr().err  # the error names the option...
    assert main(["train", *flags, "--skip-bad-images"]) == 0  # ...and it exists
