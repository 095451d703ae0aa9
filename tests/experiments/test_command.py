"""``cnnlab experiment``: list, run, and the errors a user can make."""

from __future__ import annotations

import json

import pytest

from cnnlab.cli import main
from cnnlab.experiments import estimate, list_experiments

from .conftest import TINY, read_finished


def test_list_shows_every_experiment_with_its_estimates(fixed_speed, capsys):
    assert main(["experiment", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == [e.name for e in list_experiments()]
    for row, found in zip(rows, list_experiments(), strict=True):
        expected = estimate(found, quick=False, measure=lambda item, device, threads: fixed_speed)
        assert row["full_s"] == pytest.approx(round(expected.seconds, 1))
        assert row["quick_s"] < row["full_s"]
    assert main(["experiment", "list"]) == 0
    table = capsys.readouterr().out
    assert "fc-vs-cnn" in table and "seed-noise" in table and "Estimated times" in table


def test_unknown_names_and_bad_seeds_are_usage_errors(capsys):
    assert main(["experiment", "fc-vs-cn"]) == 2
    error = capsys.readouterr().err
    assert "Did you mean 'fc-vs-cnn'?" in error and "autoencoders" in error
    assert main(["experiment", "fc-vs-cnn", "--seeds", "0"]) == 2


def test_runs_an_experiment_and_prints_where_the_report_is(tiny_experiment, fixed_speed, tmp_path, capsys):
    out = tmp_path / "tiny"
    assert main(["experiment", TINY, "--quick", "--quiet", "--seeds", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "report.md" in printed and "results.json" in printed
    finished = read_finished(out)
    assert finished.results["seeds"] == [0]
    assert finished.results["cells"]["CNN"]["parameters"] == 6422


def test_json_prints_results(tiny_experiment, fixed_speed, tmp_path, capsys):
    assert main(["experiment", TINY, "--quick", "--seeds", "1", "--json", "--out", str(tmp_path / "t")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["experiment"] == TINY and printed["status"] == "finished"
    assert set(printed["cells"]) == {"FC", "CNN"}
