"""Small things a user notices: help text, where files land and with which permissions, how
numbers print, options that were silently ignored, and settings that deserve a word."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.cli import main

SRC = Path(__file__).resolve().parents[2] / "src"


def _help(*command: str) -> str:
    """The help as a user's 80-column terminal shows it (a fresh process, so COLUMNS counts)."""
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(SRC), "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab", *command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("command", [(), ("train",), ("experiment",), ("data", "show"), ("eval",)], ids=str)
def test_help_reads_well_at_80_columns(command):
    text = _help(*command)
    assert "<bool>" not in text and not re.search(r" \.(\s|$)", text), text
    assert all(len(line) <= 80 for line in text.splitlines())
    # Descriptions get the room: each option's help starts by column 40 (or on the next line).
    for line in text.splitlines():
        option = re.match(r"  (-\S.*?)\s{2,}(\S)", line)
        if option:
            assert option.start(2) <= 40, line


def test_experiment_runs_dir_help_says_what_it_does():
    text = " ".join(_help("experiment").split())
    assert "--runs-dir <path> Runs directory, RUNS above ($CNNLAB_RUNS or ./runs by default)" in text


def test_data_show_without_out_writes_into_the_runs_folder_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNLAB_RUNS", str(tmp_path / "my-runs"))
    assert main(["data", "show", "mnist", "--split", "test", "--count", "4"]) == 0
    expected = tmp_path / "my-runs" / "samples" / "mnist-test.png"
    assert expected.is_file() and str(expected) in " ".join(capsys.readouterr().out.split())
    assert not list(tmp_path.glob("*.png"))


def test_run_folder_files_get_the_umask_permissions_of_any_file(tiny):
    import cnnlab

    old = os.umask(0o022)
    try:
        run = cnnlab.train(**tiny, name="modes")
    finally:
        os.umask(old)
    modes = {p.relative_to(run.dir).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in run.dir.rglob("*")
             if p.is_file()}  # fmt: skip
    assert "checkpoints/last.pt" in modes and "result.json" in modes
    assert set(modes.values()) == {0o644}, modes


def test_numbers_print_for_people():
    from cnnlab.formatting import format_short_count as format_count
    from cnnlab.formatting import format_value
    from cnnlab.training.progress import format_metric

    assert format_metric("test_loss", 1.0003) == "test_loss 1.0003"
    assert format_metric("test_loss", 1.0) == "test_loss 1.0000"
    assert format_metric("test_accuracy", 0.98312) == "test_accuracy 98.31%"
    assert format_value("lr", 2e-8) == "2e-08"
    assert format_count(6_300_000_000_000) == "6.3 T" and format_count(999_999_999) == "1 G"
    assert format_count(1_234_567) == "1.23 M"


def test_accuracies_are_percentages_in_every_table_and_in_curves(tiny, capsys):
    import cnnlab

    run = cnnlab.train(**{**tiny, "curves": True}, name="pct")
    accuracy = run.final["test_accuracy"]
    shown = f"{accuracy:.2%}"
    for command in (["runs", "list"], ["runs", "show", "pct"]):
        assert main([*command, "--runs-dir", tiny["runs_dir"]]) == 0
        out = capsys.readouterr().out
        assert shown in out and f"{accuracy:.4g}" not in out.replace(shown, ""), out
    from matplotlib.axes import Axes

    from cnnlab.runs import curves

    plotted: dict[str, list[float]] = {}
    real_plot, real_title = Axes.plot, Axes.set_title

    def plot(axis, *args, **kwargs):
        plotted.setdefault(id(axis), []).extend(float(y) for y in args[1])
        return real_plot(axis, *args, **kwargs)

    def title(axis, text, *args, **kwargs):
        plotted[text] = plotted.pop(id(axis), [])
        return real_title(axis, text, *args, **kwargs)

    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Axes, "plot", plot)
        patch.setattr(Axes, "set_title", title)
        curves.plot_curves(rows, run.dir / "again.png")
    assert accuracy * 100 == pytest.approx(plotted["accuracy (%)"][-1])


def test_experiment_runs_dir_is_used_with_out(tiny_experiment, fixed_speed, tmp_path):
    out, runs = tmp_path / "report", tmp_path / "elsewhere"
    code = main(["experiment", tiny_experiment.name, "--quick", "--quiet", "--seeds", "1", "--out", str(out),
                 "--runs-dir", str(runs)])  # fmt: skip
    assert code == 0 and (out / "report.md").is_file()
    assert sorted(p.parent.name for p in runs.glob("*/config.json")) and not (out / "runs").exists()


def test_a_batch_larger_than_the_dataset_is_one_warning_line(tiny, capsys):
    args = ["train", "--model", "fc2layer", "--subset", "40", "--test-subset", "20", "--batch-size", "64",
            "--epochs", "1", "--runs-dir", tiny["runs_dir"], "--quiet"]  # fmt: skip
    assert main(args) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "batch-size" in line]
    assert warnings == [
        "Warning: --batch-size 64 is larger than the 40 training images: each epoch is one step of 40 "
        "images. Choose a batch of at most 40, or train on more images."
    ]


def test_runs_compare_across_models_says_so_in_one_line(tiny, capsys):
    import cnnlab

    cnnlab.train(**tiny, name="a")
    cnnlab.train(**{**tiny, "model": "fc2layer"}, name="b")
    assert main(["runs", "compare", "a", "b", "--runs-dir", tiny["runs_dir"]]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Warning:")]
    assert len(lines) == 1 and "differ in their models" in lines[0]
    assert "course-cnn on mnist" in lines[0] and "fc2layer on mnist" in lines[0]
    cnnlab.train(**tiny, name="c")
    assert main(["runs", "compare", "a", "c", "--runs-dir", tiny["runs_dir"]]) == 0
    assert "Warning" not in capsys.readouterr().err


def test_seed_studies_and_comparisons_show_accuracies_as_percentages(tiny, capsys):
    """The issue's case: the text reprs of a seed study and a comparison (Python API, notebooks)
    and the command line's group and compare tables showed ``0.6433 ± 0.0063`` beside ``64.33%``."""
    import cnnlab

    a = cnnlab.train(**{**tiny, "epochs": 1}, seeds=[0, 1], name="pa")
    b = cnnlab.train(**{**tiny, "epochs": 1, "lr": 0.02}, seeds=[0, 1], name="pb")
    summary = a.summary["test_accuracy"]
    percent = f"{summary.mean * 100:.2f} ± {summary.std * 100:.2f}%"
    fraction = re.compile(r"(?<![\d.])0\.\d{3,}")  # an accuracy as a fraction: 0.6433
    shown_a = repr(a)
    assert f"{summary.mean:.2%}" in shown_a and f"{summary.std * 100:.2f}%" in shown_a, shown_a
    accuracy_rows = [line for line in shown_a.splitlines() if "accuracy" in line]
    assert accuracy_rows and not any(fraction.search(line) for line in accuracy_rows), shown_a
    comparison = cnnlab.compare(a, b)
    shown = repr(comparison)
    assert percent in shown and " points" in shown, shown
    rows = [line.rsplit(None, 1)[0] for line in shown.splitlines() if line.startswith("test_accuracy ")]
    assert rows and not any(fraction.search(line) for line in rows), shown  # (p, the last column, is one)
    for command in (["runs", "show", a.group], ["runs", "compare", a.group, b.group]):
        assert main([*command, "--runs-dir", tiny["runs_dir"]]) == 0
        out = capsys.readouterr().out
        lines = ["│".join(line.split("│")[:-2]) if "compare" in command else line
                 for line in out.splitlines() if "test_accuracy" in line and "│" in line]  # fmt: skip
        assert lines and not any(fraction.search(line) for line in lines), out
        assert "%" in out, out  # (a narrow console wraps "17.97 ± 5.52%" over two lines)
