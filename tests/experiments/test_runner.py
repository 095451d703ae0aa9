"""run_experiment end to end on a tiny experiment: the files, their numbers, their consistency."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cnnlab.errors import TrainingError, UsageError
from cnnlab.experiments import registry, run_experiment
from cnnlab.experiments.report import format_summary
from cnnlab.runs.stats import summarize

from .conftest import TINY, read_finished


@pytest.fixture
def finished(tiny_experiment, fixed_speed, tmp_path):
    result = run_experiment(TINY, quick=True, out=tmp_path / "exp", progress=False)
    assert result.report_path.is_file() and result.results_path.is_file()
    return read_finished(result.dir)


def test_results_hold_every_seed_and_their_summary(finished):
    results = finished.results
    assert results["status"] == "finished" and results["seeds"] == [0, 1]
    assert results["command"] == f"cnnlab experiment {TINY} --quick --seeds 2"
    for cell in results["cells"].values():
        assert cell["train_images"] == 256 and cell["test_images"] == 200
        for metric, values in cell["per_seed"].items():
            assert len(values) == 2
            expected = summarize(values)
            assert cell["summary"][metric]["mean"] == pytest.approx(expected.mean)
            assert cell["summary"][metric]["std"] == pytest.approx(expected.std)
        for run in cell["runs"]:
            assert (finished.dir / run / "result.json").is_file()
    assert results["cells"]["FC"]["parameters"] == 6442
    assert results["cells"]["CNN"]["parameters"] == 6422


def test_report_tables_show_the_numbers_of_results_json(finished):
    for label, cell in finished.results["cells"].items():
        row = finished.table_row(label)
        for metric in ("test_accuracy", "test_loss"):
            assert format_summary(summarize(cell["per_seed"][metric]), metric) in row
        assert f"{cell['parameters']:,}" in row
        assert f"{cell['parameters']:,}" in finished.table_row(label, "## Setting")
        assert label in finished.table_row(label, "## Runs, time and machine")


def test_course_check_comparison_and_figures(finished):
    results = finished.results
    (course,) = results["course"]
    cnn = summarize(results["cells"]["CNN"]["per_seed"]["test_accuracy"])
    assert course["ours"]["mean"] == pytest.approx(cnn.mean)
    assert course["difference"] == pytest.approx(cnn.mean - 0.5)
    assert "| CNN | test accuracy | 50.00% |" in finished.report
    (comparison,) = results["comparisons"]
    fc = summarize(results["cells"]["FC"]["per_seed"]["test_accuracy"])
    assert (comparison["cell_a"], comparison["cell_b"]) == ("CNN", "FC")
    assert comparison["difference"] == pytest.approx(cnn.mean - fc.mean)
    assert f"CNN minus FC: {comparison['difference'] * 100:+.2f} points." in finished.report
    assert "![Test accuracy](accuracy.png)" in finished.report
    assert (finished.dir / "accuracy.png").stat().st_size > 1000
    assert "Machine:" in finished.report and "official" in finished.report


def test_a_failing_experiment_still_writes_its_partial_report(tiny_experiment, fixed_speed, tmp_path):
    def fail_after_one_cell(ctx):
        ctx.train("FC")
        raise TrainingError("the loss became nan")

    # The fixture registered the experiment in a copy of the registry, so replacing it here is local.
    registry._EXPERIMENTS[TINY] = replace(tiny_experiment, run=fail_after_one_cell)
    with pytest.raises(TrainingError):
        run_experiment(TINY, quick=True, out=tmp_path / "exp", progress=False)
    partial = read_finished(tmp_path / "exp")
    assert partial.results["status"] == "failed"
    assert "nan" in partial.results["error"]
    assert list(partial.results["cells"]) == ["FC"]
    assert "**Status: failed**" in partial.report


def test_refuses_a_non_empty_out_folder_and_zero_seeds(tiny_experiment, fixed_speed, tmp_path):
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "something").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        run_experiment(TINY, quick=True, out=tmp_path / "exp", progress=False)
    with pytest.raises(UsageError, match="at least 1"):
        run_experiment(TINY, quick=True, seeds=0, progress=False)


def test_default_directory_is_under_the_runs_dir(tiny_experiment, fixed_speed, tmp_path):
    result = run_experiment(TINY, quick=True, seeds=1, runs_dir=tmp_path / "myruns", progress=False)
    assert result.dir.parent == tmp_path / "myruns" / "experiments"
    assert result.dir.name.startswith(f"{TINY}-")
    assert result.results["seeds"] == [0]
